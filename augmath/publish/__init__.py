"""augmath.publish: `augmath push`, a dataset / model / results folder to the Hub, and what a push uploads.

    hub      `augmath push DIR --repo-id ORG/NAME [--dry-run] [--stage DIR]`: plan, verify, upload, tag
    staging  the folder a push sends: files linked or cast (`--dtype`), results named by Hub id, commit message
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "PushError": "hub", "PushPlan": "hub", "plan_push": "hub", "push": "hub", "folder_kind": "hub",
    "DTYPES": "staging", "StagingError": "staging", "stage_folder": "staging",
})
