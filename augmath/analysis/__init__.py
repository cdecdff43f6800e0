"""augmath.analysis: the paper's questions answered from results folders.

    fit (`augmath fit`: accuracy vs ln N, log-linear and segmented, bootstrap intervals; scaling holds the
    models), transfer (`augmath transfer`: in-domain / cross-domain matrix), report (markdown + HTML + PNG
    and the results card; sections), results (reading results folders), results_repo (an experiment's results
    repository: the report, every evaluation, the index and the card), plots.
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "fit_results": "fit", "write_report": "report", "render_results_card": "report",
    "load_results": "results", "load_many": "results", "write_results_repo": "results_repo",
})
