"""IRT calibration in the pipeline: responses and anchors from the warehouse, a backend
(the in-process engine or the remote IRT service), linking to the anchor scale, and the
writes of ``mirt_item_params``, ``mirt_fit_meta`` and ``mirt_ability``. No Dagster here."""
