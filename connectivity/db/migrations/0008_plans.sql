-- The officers' workspace, part 4: intervention plans. A plan is a choice of clusters of an
-- authority's target premises (or of a saved list's premises), costed with a versioned cost
-- model on a classification run. Everything is frozen when the plan is made: the clusters with
-- their figures and outlines, and their premises, so a plan says what it said on the day after
-- newer releases, runs or cost models. ORM classes: connectivity/officers/models.py; design:
-- docs/planning.md.

CREATE TABLE gapmap.plan (
    id               bigserial   PRIMARY KEY,
    name             text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200 AND name = btrim(name)),
    -- the authority the plan belongs to: its scope (connectivity/officers/scope.py)
    la_code          text        NOT NULL CHECK (la_code ~ '^W06[0-9]{6}$'),
    owner_id         bigint      NOT NULL REFERENCES gapmap.account (id) ON DELETE RESTRICT,
    notes            text        NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    -- what the recommendation aims for
    target           text        NOT NULL CHECK (target IN ('30', 'gigabit')),
    -- where the premises came from: the authority's current targets, or a list's snapshot
    list_id          bigint      REFERENCES gapmap.target_list (id) ON DELETE SET NULL,
    snapshot_id      bigint      REFERENCES gapmap.target_list_snapshot (id) ON DELETE SET NULL,
    list_name        text,
    -- the classification run the targets, served premises and planned builds came from (copied
    -- in, so the plan still says what it rests on after the run's tables are gone)
    run_id           integer     NOT NULL,
    run_label        text        NOT NULL,
    releases         jsonb       NOT NULL,
    synthetic        boolean     NOT NULL DEFAULT false,
    -- the cost model it was costed with, whole (connectivity/costs.py as_dict)
    costs_version    text        NOT NULL,
    costs            jsonb       NOT NULL,
    -- the clustering: ST_ClusterDBSCAN's eps and minpoints, and the probability of a target
    distance_m       real        NOT NULL CHECK (distance_m > 0),
    min_premises     integer     NOT NULL CHECK (min_premises >= 1),
    probability_below real       NOT NULL CHECK (probability_below BETWEEN 0 AND 1),
    -- the authority's targets on the run: the denominator of the share the plan reaches
    authority_targets integer    NOT NULL CHECK (authority_targets >= 0),
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name)
);
CREATE INDEX plan_la_idx ON gapmap.plan (la_code);

-- A chosen cluster with its figures as computed when the plan was made; cluster 0 holds the
-- isolated premises (in no cluster: priced for the non-fibre options only).
CREATE TABLE gapmap.plan_cluster (
    plan_id           bigint   NOT NULL REFERENCES gapmap.plan (id) ON DELETE CASCADE,
    cluster_id        integer  NOT NULL CHECK (cluster_id >= 0),
    kind              text     NOT NULL CHECK (kind IN ('cluster', 'isolated')),
    premises          integer  NOT NULL CHECK (premises >= 0),
    settled           integer  NOT NULL CHECK (settled >= 0),
    expected          real     NOT NULL CHECK (expected >= 0),
    targets           integer  NOT NULL CHECK (targets >= 0),
    planned_members   integer  NOT NULL CHECK (planned_members >= 0),
    planned_nearby    integer  CHECK (planned_nearby >= 0),
    need_wimd_rank    real,
    lsoas             integer  NOT NULL CHECK (lsoas >= 0),
    most_deprived     integer  NOT NULL CHECK (most_deprived >= 0),
    -- a proxy for the nearest network: the nearest premises with 30 Mbit/s or more
    served_distance_m real     CHECK (served_distance_m >= 0),
    mst_m             real     CHECK (mst_m >= 0),
    link_m            real     CHECK (link_m >= 0),
    route_m           real     CHECK (route_m >= 0),
    -- what connecting it would cost (GBP) by each option; NULL: not an option for it
    fibre_gbp          double precision CHECK (fibre_gbp >= 0),
    fixed_wireless_gbp double precision CHECK (fixed_wireless_gbp >= 0),
    leo_satellite_gbp  double precision CHECK (leo_satellite_gbp >= 0),
    recommended       text     CHECK (recommended IN ('fibre', 'fixed_wireless', 'leo_satellite')),
    recommended_gbp   double precision CHECK (recommended_gbp >= 0),
    per_premises_gbp  double precision CHECK (per_premises_gbp >= 0),
    meets_target      boolean  NOT NULL,
    very_high_cost    boolean  NOT NULL,
    robust            boolean,
    outline           geometry(Polygon, 27700),
    centroid          geometry(Point, 27700),
    PRIMARY KEY (plan_id, cluster_id),
    CHECK ((kind = 'isolated') = (cluster_id = 0)),
    CHECK (kind = 'isolated' OR (outline IS NOT NULL AND centroid IS NOT NULL))
);

-- The premises of a plan's clusters, as they were when it was made.
CREATE TABLE gapmap.plan_premises (
    plan_id           bigint  NOT NULL,
    cluster_id        integer NOT NULL,
    uprn              bigint  NOT NULL,
    status            text    NOT NULL,
    probability_below real,
    planned_build     boolean NOT NULL,
    is_target         boolean NOT NULL,
    lsoa              text,
    wimd_rank         integer,
    geom              geometry(Point, 27700) NOT NULL,
    PRIMARY KEY (plan_id, uprn),
    FOREIGN KEY (plan_id, cluster_id) REFERENCES gapmap.plan_cluster (plan_id, cluster_id)
        ON DELETE CASCADE
);
CREATE INDEX plan_premises_cluster_idx ON gapmap.plan_premises (plan_id, cluster_id);
