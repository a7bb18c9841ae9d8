"""The code location: every domain's definitions merged once, with shared resources."""

import dagster as dg

from .defs import features, freshness, ingest, interventions, irt, reports, state
from .defs.resources import default_resources

defs = dg.Definitions.merge(
    ingest.defs,
    features.defs,
    irt.defs,
    state.defs,
    interventions.defs,
    reports.defs,
    freshness.defs,
    dg.Definitions(resources=default_resources()),
)
