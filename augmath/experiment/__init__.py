"""augmath.experiment: `augmath experiment CONFIG.yaml`, a whole study from one YAML file, run as resumable stages.

    config      ExperimentConfig: the YAML's typed sections, checked before anything starts and held by the planner
    train_runs  `train.runs`: which rows each train stage trains on (TrainRun, DataPart)
    plan        the stages, one small planner per stage kind (augment, build, base, train, eval, analysis, push)
    stages      the stage store: content-addressed keys, output folders, markers, running one stage
    prebuilt    `dataset: {path}`: a dataset built beforehand, checked and linked in as the build stage
    sizes       `--plan`: rows per train stage, items per eval stage
    runner      running the plan (the embedded server for the augment stages, progress, timings)
    cli         `augmath experiment CONFIG [--plan]`
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "ExperimentConfig": "config", "ConfigError": "config",
    "plan": "planner", "hub_repos": "planner", "model_repo": "planner", "run_experiment": "runner",
    "Stage": "stages", "StageError": "stages", "resolve": "stages", "is_done": "stages", "run_stage": "stages",
    "TrainRun": "train_runs", "train_runs": "train_runs",
})
