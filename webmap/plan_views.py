"""Intervention plans in the officers' workspace: the plans in scope with a "new plan" form,
the clusters of an authority's targets (or of a saved list) to choose from on a map and in a
table, a plan's page with its totals and bid pack, and two plans side by side. Thin views over
``connectivity.officers.plans`` and ``bidpack`` (which scope, check and audit). Everything but
the map works without JavaScript: the table's checkboxes are the form. Routes are added to the
officer blueprint, so they share its sign-in, ``no-store`` and language handling; ``create_app``
imports this module before it registers them. Design: docs/planning.md ("The pages")."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from connectivity.costs import OPTION_NAMES, OPTIONS, load_costs
from connectivity.errors import BadRequest
from connectivity.officers import lists, plans
from connectivity.officers.scope import visible_authorities
from connectivity.planning import params_from

from .auth import current_account, login_required, require_change_rights
from .officer import bp
from .plan_api import bidpack_response
from .security import client_address
from .workspace import request_session

#: the table's columns that sort, in their order on the page
SORTS = ("id", "premises", "settled", "expected", "need_wimd_rank", "most_deprived",
         "served_distance_m", "planned_members", "planned_nearby", "route_m", "fibre",
         "fixed_wireless", "leo_satellite", "recommended", "per_premises_gbp", "very_high_cost",
         "robust")
#: the letter on each cluster's mark on the map, by recommended option (colour is not alone)
OPTION_SYMBOLS = {"en": {"fibre": "F", "fixed_wireless": "W", "leo_satellite": "S"},
                  "cy": {"fibre": "F", "fixed_wireless": "D", "leo_satellite": "L"}}
#: the settings of the clusters page, as the query string and the save form carry them
SETTING_FIELDS = ("area", "list", "target", "distance_m", "min_premises")


def _model():
    return load_costs(current_app.config["GAPMAP_SETTINGS"].costs_file)


def gbp(value: float | None, signed: bool = False) -> str:
    """Pounds, whole, in the page's locale: "£1,234" ("+£1,234" or "−£1,234" when ``signed``,
    a difference; a negative amount always has its sign)."""
    if value is None:
        return "–"
    pounds = round(value)
    sign = "−" if pounds < 0 else ("+" if signed and pounds > 0 else "")
    return sign + "£" + format_decimal(abs(pounds))


def option_name(code: str | None) -> str:
    if not code:
        return "–"
    en, cy = OPTION_NAMES[code]
    return cy if g.get("lang") == "cy" else en


def target_names() -> dict[str, str]:
    return {"30": _("at least 30 Mbit/s"), "gigabit": _("gigabit-capable")}


# -- the clusters as rows, their map and its legend ------------------------------------------
def _rows(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Clusters (from ``planning.clusters`` or a plan's ``cluster_dict``) as the table's rows."""
    out = []
    for c in groups:
        priced = c.get("options") or c.get("per_option") or {}
        row = {k: c.get(k) for k in (
            "id", "premises", "settled", "expected", "targets", "planned_members",
            "planned_nearby", "need_wimd_rank", "lsoas", "most_deprived", "served_distance_m",
            "route_m", "recommended", "recommended_gbp", "per_premises_gbp", "meets_target",
            "very_high_cost", "robust")}
        for option in OPTIONS:
            row[option] = priced[option]["gbp"] if priced.get(option) else None
        out.append(row)
    return out


def _sorted(rows: list[dict[str, Any]], sort: str, descending: bool) -> list[dict[str, Any]]:
    """Rows by ``sort`` (blanks last either way), then by cluster id; the isolated premises
    (not a cluster) always last."""
    if sort not in SORTS:
        raise BadRequest(f"unknown sort {sort!r}", f"sort by one of {', '.join(SORTS)}")
    present = [r for r in rows if r[sort] is not None and r["id"]]
    blank = [r for r in rows if r[sort] is None and r["id"]]
    present.sort(key=lambda r: r["id"])
    present.sort(key=lambda r: r[sort], reverse=descending)
    return present + sorted(blank, key=lambda r: r["id"]) + [r for r in rows if not r["id"]]


def cost_bands(model) -> list[float]:
    """The upper edges of the cost-per-premises bands 1 to 3 (band 4: above the last, the very
    high cost line of the cost model)."""
    line = model.flags.very_high_cost_gbp
    return [round(line * 0.3, -2), round(line * 0.6, -2), line]


def _band(value: float | None, edges: list[float]) -> int:
    if value is None:
        return 0
    return next((i + 1 for i, edge in enumerate(edges) if value <= edge), len(edges) + 1)


def cluster_name(cid: int) -> str:
    return _("Cluster %(id)s", id=cid) if cid else _("Isolated premises")


def _map_features(rows, outlines, edges) -> list[dict[str, Any]]:
    """What the map draws: each cluster's outline with its option, cost band and a sentence."""
    symbols = OPTION_SYMBOLS["cy" if g.get("lang") == "cy" else "en"]
    out = []
    for r in rows:
        shape = outlines.get(r["id"])
        if shape is None:  # the isolated premises have no outline: the table has them
            continue
        band = _band(r["per_premises_gbp"], edges)
        out.append({"id": r["id"], "outline": shape, "option": r["recommended"] or "none",
                    "symbol": symbols.get(r["recommended"], "?"), "band": band,
                    "title": _("%(cluster)s: %(premises)s premises; %(option)s, %(cost)s per "
                               "premises", cluster=cluster_name(r["id"]),
                               premises=format_decimal(r["premises"]),
                               option=option_name(r["recommended"]),
                               cost=gbp(r["per_premises_gbp"]))})
    return out


def _legend(edges) -> dict[str, list[tuple[str, str, str]]]:
    """The two legends: (CSS class, symbol, words) per entry."""
    symbols = OPTION_SYMBOLS["cy" if g.get("lang") == "cy" else "en"]
    low, mid, line = edges
    return {
        "option": [(f"cat-{o}", symbols[o], option_name(o)) for o in OPTIONS],
        "cost": [("band-1", "1", _("up to %(high)s per premises", high=gbp(low))),
                 ("band-2", "2", _("%(low)s to %(high)s per premises", low=gbp(low),
                                   high=gbp(mid))),
                 ("band-3", "3", _("%(low)s to %(high)s per premises", low=gbp(mid),
                                   high=gbp(line))),
                 ("band-4", "4", _("over %(low)s per premises: very high cost", low=gbp(line)))]}


def _table_context(rows, outlines, model, endpoint: str, link_args: dict[str, Any]):
    """The sorted rows, the sort links, the map's features and the legends."""
    sort = request.args.get("sort", "id")
    descending = request.args.get("order") == "desc"
    rows = _sorted(rows, sort, descending)
    links = {col: url_for(endpoint, lang=g.lang, **link_args, sort=col,
                          order="desc" if col == sort and not descending else "asc")
             for col in SORTS}
    edges = cost_bands(model)
    return {"rows": rows, "sort": sort, "order": "desc" if descending else "asc",
            "sort_links": links, "features": _map_features(rows, outlines, edges),
            "legend": _legend(edges), "sensitivity": round(model.flags.sensitivity * 100)}


# -- parsing ----------------------------------------------------------------------------------
def _settings_from(values) -> dict[str, Any]:
    """The clusters page's settings from a query string or the save form (blank: the model's)."""
    def number(name: str, kind):
        text = (values.get(name) or "").strip().replace(",", ".")
        if not text:
            return None
        try:
            return kind(text)
        except ValueError:
            raise BadRequest(f"{name} must be a number, got {text!r}") from None

    return {"area": (values.get("area") or "").strip().upper(),
            "list": (values.get("list") or "").strip() or None,
            "target": values.get("target") or "30",
            "distance_m": number("distance_m", float),
            "min_premises": number("min_premises", int)}


def _form_context(account, model, values=None, error: str | None = None) -> dict[str, Any]:
    """The "new plan" form's choices: authorities in scope, saved lists, targets, defaults."""
    db = request_session()
    return {"account": account, "areas": visible_authorities(db, account),
            "saved_lists": [{"id": t.id, "name": t.name, "authorities": t.la_codes}
                            for t in lists.visible_lists(db, account)],
            "targets": target_names(), "defaults": model.clusters,
            "values": values or {}, "error": error}


# -- pages ------------------------------------------------------------------------------------
@bp.get("/<lang>/officer/plans")
@login_required
def plans_page():
    account = current_account()
    db = request_session()
    model = _model()
    rows = [plans.plan_dict(db, p, with_clusters=False) for p in plans.visible_plans(db, account)]
    return render_template("officer/plans.html", plans=rows, **_form_context(account, model))


@bp.get("/<lang>/officer/plans/new")
@login_required
def plans_new():
    """Without ``area``: the "new plan" form. With it: the authority's clusters, costed, on a
    map and in a table whose checkboxes choose the plan's clusters."""
    account = current_account()
    require_change_rights(account)
    model = _model()
    if not request.args.get("area"):
        return render_template("officer/plans_new.html", **_form_context(account, model))
    try:
        values = _settings_from(request.args)
        context = _clusters_context(account, model, values, chosen=set())
    except BadRequest as exc:
        request_session().rollback()
        return render_template("officer/plans_new.html",
                               **_form_context(account, model, request.args, str(exc))), 400
    return render_template("officer/plan_clusters.html", **context)


def _clusters_context(account, model, values, *, chosen: set[int], error: str | None = None,
                      form=None) -> dict[str, Any]:
    db = request_session()
    params = params_from(model, distance_m=values["distance_m"],
                         min_premises=values["min_premises"], target=values["target"])
    result = plans.clusters_for(db, account, model, params, la=values["area"],
                                list_ident=values["list"])
    outlines = plans.member_outlines(db, params)
    db.rollback()  # nothing is kept: the temporary tables go with the transaction
    groups = result["clusters"] + ([result["isolated"]] if result["isolated"] else [])
    link_args = {k: v for k, v in values.items() if v not in (None, "")}
    context = _table_context(_rows(groups), outlines, model, "officer.plans_new", link_args)
    context.update(account=account, result=result, params=params, values=values,
                   settings_fields={k: ("" if v is None else v) for k, v in values.items()},
                   chosen=chosen, error=error, form=form or {}, targets=target_names())
    return context


@bp.post("/<lang>/officer/plans/new")
@login_required
def plan_save():
    """Save the chosen clusters as a plan (the clusters page's form)."""
    account = current_account()
    require_change_rights(account)
    model = _model()
    db = request_session()
    form = request.form
    try:
        values = _settings_from(form)
    except BadRequest as exc:
        return render_template("officer/plans_new.html",
                               **_form_context(account, model, form, str(exc))), 400
    if not values["area"]:
        return render_template("officer/plans_new.html", **_form_context(
            account, model, form, _("Choose the plan's local authority."))), 400
    try:
        chosen = {int(c) for c in form.getlist("cluster")}
    except ValueError:
        raise BadRequest("cluster must be a cluster's number") from None
    name = (form.get("name") or "").strip()
    problem = None
    if not chosen:
        problem = _("Choose at least one cluster for the plan.")
    elif not name:
        problem = _("Give the plan a name.")
    if problem is None:
        try:
            params = params_from(model, distance_m=values["distance_m"],
                                 min_premises=values["min_premises"], target=values["target"])
            made = plans.create_plan(db, name=name, owner=account, by=account,
                                     la=values["area"], model=model, params=params,
                                     cluster_ids=sorted(chosen), list_ident=values["list"],
                                     notes=form.get("notes", ""), actor=account.email,
                                     client=client_address())
        except BadRequest as exc:
            db.rollback()
            problem = str(exc)
        else:
            db.commit()
            return redirect(url_for("officer.plan_page", lang=g.lang, plan_id=made.id), code=303)
    context = _clusters_context(account, model, values, chosen=chosen, error=problem,
                                form={"name": name, "notes": form.get("notes", "")})
    return render_template("officer/plan_clusters.html", **context), 400


@bp.get("/<lang>/officer/plans/compare")
@login_required
def plans_compare():
    """Two plans side by side (``?a=&b=``); without both, the form that chooses them."""
    account = current_account()
    db = request_session()
    visible = plans.visible_plans(db, account)
    a_id, b_id = request.args.get("a"), request.args.get("b")
    side = None
    if a_id and b_id:
        side = plans.compare(db, plans.get_plan(db, account, a_id),
                             plans.get_plan(db, account, b_id))
    return render_template("officer/plans_compare.html", account=account, side=side,
                           choices=[(p.id, p.name) for p in visible], a=a_id or "", b=b_id or "")


@bp.get("/<lang>/officer/plans/<plan_id>")
@login_required
def plan_page(plan_id: str):
    account = current_account()
    db = request_session()
    chosen = plans.get_plan(db, account, plan_id)
    data = plans.plan_dict(db, chosen)
    model = _model()
    context = _table_context(_rows(data["clusters"]), plans.plan_outlines(db, chosen), model,
                             "officer.plan_page", {"plan_id": chosen.id})
    others = [(p.id, p.name) for p in plans.visible_plans(db, account) if p.id != chosen.id]
    return render_template("officer/plan.html", account=account, plan=data, others=others,
                           targets=target_names(), **context)


@bp.get("/<lang>/officer/plans/<plan_id>/bidpack")
@login_required
def plan_bidpack(plan_id: str):
    """The bid pack as a zip (viewers too: a plan holds no personal data); audited."""
    account = current_account()
    db = request_session()
    return bidpack_response(db, plans.get_plan(db, account, plan_id), account)


def init_app(app) -> None:
    app.add_template_filter(gbp, "gbp")
    app.add_template_filter(option_name, "option_name")
    app.jinja_env.globals.update(cluster_name=cluster_name, target_names=target_names)
