"""Intervention plans in the officer API, for scripts: ``/api/v1/officer/plans`` (the plans
in the token's scope; POST makes one), ``/plans/<id>`` (one, with its clusters) and
``/plans/<id>/bidpack`` (the zip). Thin views over ``connectivity.officers.plans`` and
``bidpack`` (which scope, check and audit). Routes are added to the officer API blueprint, so
they share its bearer tokens and ``no-store``; ``create_app`` imports this module before it
registers them. The pages are in ``plan_views.py``."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from flask import Response, current_app, g, jsonify, request

from connectivity.costs import load_costs
from connectivity.errors import BadRequest
from connectivity.officers import plans
from connectivity.officers.bidpack import export_bidpack
from connectivity.planning import params_from

from .auth import require_change_rights, token_required
from .officer import api
from .security import client_address
from .workspace import request_session

#: the fields of a POST /plans body
FIELDS = {"name", "area", "clusters", "all", "list", "distance_m", "min_premises",
          "probability_below", "target", "notes"}


def _model():
    return load_costs(current_app.config["GAPMAP_SETTINGS"].costs_file)


@api.get("/plans")
@token_required
def api_plans():
    db = request_session()
    return jsonify({"plans": [plans.plan_dict(db, p, with_clusters=False)
                              for p in plans.visible_plans(db, g.account)]})


@api.post("/plans")
@token_required
def api_plan_create():
    require_change_rights(g.account)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}",
                         f"the fields are {', '.join(sorted(FIELDS))}")
    if not body.get("name"):
        raise BadRequest("a plan needs a name")
    if not body.get("area"):
        raise BadRequest("give the plan's authority: area (a W06 code)")
    clusters = body.get("clusters")
    if bool(body.get("all")) == (clusters is not None):
        raise BadRequest("give clusters (a list of cluster ids) or all: true")
    if clusters is not None and not (isinstance(clusters, list)
                                     and all(isinstance(c, int) and c >= 0 for c in clusters)):
        raise BadRequest("clusters must be a list of cluster ids (whole numbers, 0 for the "
                         "isolated premises)")
    model = _model()
    try:
        params = params_from(model, distance_m=body.get("distance_m"),
                             min_premises=body.get("min_premises"),
                             probability_below=body.get("probability_below"),
                             target=body.get("target"))
    except (TypeError, ValueError):
        raise BadRequest("distance_m, min_premises and probability_below must be numbers") from None
    db = request_session()
    made = plans.create_plan(db, name=str(body["name"]), owner=g.account, by=g.account,
                             la=str(body["area"]), model=model, params=params,
                             cluster_ids=clusters, list_ident=body.get("list"),
                             notes=str(body.get("notes") or ""), actor=g.account.email,
                             client=client_address())
    data = plans.plan_dict(db, made)
    db.commit()
    return jsonify(data), 201


@api.get("/plans/<plan_id>")
@token_required
def api_plan(plan_id: str):
    db = request_session()
    return jsonify(plans.plan_dict(db, plans.get_plan(db, g.account, plan_id)))


@api.get("/plans/<plan_id>/bidpack")
@token_required
def api_plan_bidpack(plan_id: str):
    """The plan's bid pack as a zip (viewers too: a plan holds no personal data); audited."""
    db = request_session()
    return bidpack_response(db, plans.get_plan(db, g.account, plan_id), g.account)


def bidpack_response(db, chosen, account) -> Response:
    """``chosen``'s bid pack as a zip download, written and audited (``plan.export``) as
    ``account``; the page and the API both send it."""
    with tempfile.TemporaryDirectory(prefix="gapmap-plan-") as folder:
        out = Path(folder) / f"plan-{chosen.id}.zip"
        export_bidpack(db, chosen, out, actor=account.email, by=account,
                       client=client_address())
        data = out.read_bytes()
    db.commit()
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", chosen.name).strip("-") or f"plan-{chosen.id}"
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}.zip"'})
