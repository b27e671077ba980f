"""The officers' records as SQLAlchemy 2.0 typed ORM classes.

They map tables made by the SQL migrations (``connectivity/db/migrations``), which stay the one
schema: nothing here creates a table. ``tests/test_officers_models.py`` checks every class against
the migrated table, column by column. Bulk and analytic SQL (loads, classification, statistics,
tiles) stays in psycopg.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    DOUBLE_PRECISION,
    REAL,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..db.connection import SCHEMA

ROLES = ("admin", "officer", "viewer")


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)
    type_annotation_map = {str: Text(), int: BigInteger(), dt.datetime: DateTime(timezone=True),
                           bool: Boolean()}


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    name: Mapped[str] = mapped_column(server_default="")
    role: Mapped[str]
    lang: Mapped[str]
    password_hash: Mapped[str | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_sign_in_at: Mapped[dt.datetime | None]
    disabled_at: Mapped[dt.datetime | None]

    areas: Mapped[list[AccountArea]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="AccountArea.la_code",
        lazy="selectin")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="account",
                                                  order_by="ApiToken.id")

    @property
    def la_codes(self) -> list[str]:
        return [a.la_code for a in self.areas]

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def sees_contact_details(self) -> bool:
        """Officers and admins see residents' contact details (within scope); viewers never."""
        return self.role in ("admin", "officer")

    @property
    def may_change(self) -> bool:
        """Viewers are read-only."""
        return self.role in ("admin", "officer")

    def __repr__(self) -> str:  # never the password hash
        return f"<Account {self.id} {self.role}>"


class AccountArea(Base):
    __tablename__ = "account_area"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True)
    la_code: Mapped[str] = mapped_column(primary_key=True)

    account: Mapped[Account] = relationship(back_populates="areas")


class AccountSession(Base):
    __tablename__ = "account_session"

    id_hash: Mapped[str] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    ended_at: Mapped[dt.datetime | None]

    account: Mapped[Account] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    name: Mapped[str]
    token_hash: Mapped[str]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    account: Mapped[Account] = relationship(back_populates="tokens", lazy="joined")

    def __repr__(self) -> str:  # never the hash
        return f"<ApiToken {self.id} {self.name!r}>"


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.clock_timestamp())
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    actor: Mapped[str]
    action: Mapped[str]
    object_type: Mapped[str | None]
    object_id: Mapped[str | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    client: Mapped[str | None]


class Report(Base):
    """A resident's report that the map is wrong (stored by ``connectivity.reports``)."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    postcode: Mapped[str]
    uprn: Mapped[int | None]
    problem: Mapped[str]
    measured_down: Mapped[float | None] = mapped_column(REAL)
    measured_up: Mapped[float | None] = mapped_column(REAL)
    message: Mapped[str | None]
    contact: Mapped[str | None]
    lang: Mapped[str]
    classification: Mapped[str | None]
    status: Mapped[str] = mapped_column(server_default="new")
    la_code: Mapped[str | None]
    closed_at: Mapped[dt.datetime | None]
    contact_purged_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:  # never the contact
        return f"<Report {self.id} {self.postcode} {self.status}>"


class TargetList(Base):
    """A saved target list (migration 0006): its definition, owner and authorities; its premises
    are in its snapshots (written and read with set-based SQL in ``lists.py``)."""

    __tablename__ = "target_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    notes: Mapped[str] = mapped_column(server_default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    polygon: Mapped[Any | None] = mapped_column(Geometry("MULTIPOLYGON", srid=27700,
                                                         spatial_index=False))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    owner: Mapped[Account] = relationship(lazy="joined")
    areas: Mapped[list[TargetListArea]] = relationship(
        back_populates="target_list", cascade="all, delete-orphan",
        order_by="TargetListArea.la_code", lazy="selectin")
    snapshots: Mapped[list[TargetListSnapshot]] = relationship(
        back_populates="target_list", cascade="all, delete-orphan",
        order_by="TargetListSnapshot.id", lazy="selectin")

    @property
    def la_codes(self) -> list[str]:
        return [a.la_code for a in self.areas]

    @property
    def latest(self) -> TargetListSnapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    def __repr__(self) -> str:
        return f"<TargetList {self.id} {self.name!r}>"


class TargetListArea(Base):
    __tablename__ = "target_list_area"

    list_id: Mapped[int] = mapped_column(ForeignKey("target_list.id", ondelete="CASCADE"),
                                         primary_key=True)
    la_code: Mapped[str] = mapped_column(primary_key=True)

    target_list: Mapped[TargetList] = relationship(back_populates="areas")


class TargetListSnapshot(Base):
    """One evaluation of a list on a classification run; its premises are in
    ``gapmap.target_list_premises`` (no ORM class: written and read with set-based SQL in
    ``lists.py``), each with its AddressBase address, parent UPRN and class as they were when
    the snapshot was taken (migration 0014). ``releases`` is the run's, with ``addressbase``
    added when the snapshot holds AddressBase records (the label of that supply)."""

    __tablename__ = "target_list_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("target_list.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(Integer)
    run_label: Mapped[str]
    releases: Mapped[dict[str, Any]] = mapped_column(JSONB)
    synthetic: Mapped[bool] = mapped_column(server_default="false")
    premises: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.clock_timestamp())
    created_by: Mapped[str]

    target_list: Mapped[TargetList] = relationship(back_populates="snapshots")


class ReportToken(Base):
    """The SHA-256 of a resident's private status link token (migration 0007)."""

    __tablename__ = "report_token"

    token_hash: Mapped[str] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    def __repr__(self) -> str:  # never the hash
        return f"<ReportToken for report {self.report_id}>"


class Challenge(Base):
    """A challenge to the map about one premises (migration 0007; docs/challenges.md)."""

    __tablename__ = "challenge"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    kind: Mapped[str]
    origin: Mapped[str]
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="RESTRICT"))
    load_run_id: Mapped[int | None]
    source_line: Mapped[int | None]
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    uprn: Mapped[int | None]
    postcode: Mapped[str | None]
    la_code: Mapped[str | None]
    geom: Mapped[Any | None] = mapped_column(Geometry("POINT", srid=27700, spatial_index=False))
    availability_reason: Mapped[str | None]
    claimed_down: Mapped[float | None] = mapped_column(REAL)
    claimed_up: Mapped[float | None] = mapped_column(REAL)
    tests: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    evidence_ref: Mapped[str | None]
    observed_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None]
    lang: Mapped[str] = mapped_column(server_default="en")
    state: Mapped[str] = mapped_column(server_default="submitted")
    reason: Mapped[str | None]
    message: Mapped[str | None]
    due_at: Mapped[dt.datetime]
    screened_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    corrected_down: Mapped[float | None] = mapped_column(REAL)
    corrected_up: Mapped[float | None] = mapped_column(REAL)
    whole_building: Mapped[bool] = mapped_column(server_default="false")
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    withdrawn_at: Mapped[dt.datetime | None]

    report: Mapped[Report | None] = relationship(lazy="joined")
    filer: Mapped[Account | None] = relationship(foreign_keys=[filed_by], lazy="joined")
    decider: Mapped[Account | None] = relationship(foreign_keys=[decided_by], lazy="joined")
    events: Mapped[list[ChallengeEvent]] = relationship(
        back_populates="challenge", cascade="all, delete-orphan", order_by="ChallengeEvent.id",
        lazy="selectin")

    def __repr__(self) -> str:
        return f"<Challenge {self.id} {self.kind} {self.state}>"


class ChallengeEvent(Base):
    __tablename__ = "challenge_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(server_default=func.clock_timestamp())
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    actor: Mapped[str]
    from_state: Mapped[str | None]
    to_state: Mapped[str]
    reason: Mapped[str | None]
    message: Mapped[str | None]

    challenge: Mapped[Challenge] = relationship(back_populates="events")


class CorrectionConflict(Base):
    """A newer release that disagrees with an upheld correction, for an officer to resolve."""

    __tablename__ = "correction_conflict"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    uprn: Mapped[int]
    release_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str]
    release: Mapped[str]
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    la_code: Mapped[str | None]
    found_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    resolution: Mapped[str | None]

    challenge: Mapped[Challenge] = relationship(lazy="joined")


class Plan(Base):
    """An intervention plan (migration 0008; docs/planning.md): chosen clusters of an
    authority's targets, costed with a stored cost model on a classification run. Its premises
    are in ``gapmap.plan_premises`` (written and read with set-based SQL in ``plans.py``)."""

    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    la_code: Mapped[str]
    owner_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    notes: Mapped[str] = mapped_column(server_default="")
    target: Mapped[str]
    list_id: Mapped[int | None] = mapped_column(ForeignKey("target_list.id", ondelete="SET NULL"))
    snapshot_id: Mapped[int | None] = mapped_column(
        ForeignKey("target_list_snapshot.id", ondelete="SET NULL"))
    list_name: Mapped[str | None]
    run_id: Mapped[int] = mapped_column(Integer)
    run_label: Mapped[str]
    releases: Mapped[dict[str, Any]] = mapped_column(JSONB)
    synthetic: Mapped[bool] = mapped_column(server_default="false")
    costs_version: Mapped[str]
    costs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    distance_m: Mapped[float] = mapped_column(REAL)
    min_premises: Mapped[int] = mapped_column(Integer)
    probability_below: Mapped[float] = mapped_column(REAL)
    authority_targets: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    owner: Mapped[Account] = relationship(lazy="joined")
    clusters: Mapped[list[PlanCluster]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanCluster.cluster_id",
        lazy="selectin")

    def __repr__(self) -> str:
        return f"<Plan {self.id} {self.name!r}>"


class PlanCluster(Base):
    """A cluster of a plan with its figures, frozen when the plan was made (0: the isolated
    premises)."""

    __tablename__ = "plan_cluster"

    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"),
                                         primary_key=True)
    cluster_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str]
    premises: Mapped[int] = mapped_column(Integer)
    settled: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(REAL)
    targets: Mapped[int] = mapped_column(Integer)
    planned_members: Mapped[int] = mapped_column(Integer)
    planned_nearby: Mapped[int | None] = mapped_column(Integer)
    need_wimd_rank: Mapped[float | None] = mapped_column(REAL)
    lsoas: Mapped[int] = mapped_column(Integer)
    most_deprived: Mapped[int] = mapped_column(Integer)
    served_distance_m: Mapped[float | None] = mapped_column(REAL)
    mst_m: Mapped[float | None] = mapped_column(REAL)
    link_m: Mapped[float | None] = mapped_column(REAL)
    route_m: Mapped[float | None] = mapped_column(REAL)
    fibre_gbp: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    fixed_wireless_gbp: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    leo_satellite_gbp: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    recommended: Mapped[str | None]
    recommended_gbp: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    per_premises_gbp: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    meets_target: Mapped[bool]
    very_high_cost: Mapped[bool]
    robust: Mapped[bool | None]
    outline: Mapped[Any | None] = mapped_column(Geometry("POLYGON", srid=27700,
                                                         spatial_index=False))
    centroid: Mapped[Any | None] = mapped_column(Geometry("POINT", srid=27700,
                                                          spatial_index=False))

    plan: Mapped[Plan] = relationship(back_populates="clusters")


MAPPED = (Account, AccountArea, AccountSession, ApiToken, AuditEvent, Report, TargetList,
          TargetListArea, TargetListSnapshot, ReportToken, Challenge, ChallengeEvent,
          CorrectionConflict, Plan, PlanCluster)
