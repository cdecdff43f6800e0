"""augmath.dataset_builders: run folders -> one Hub-ready dataset folder (`augmath build`).

    build.build(run_dirs, out, name, version, seed) -> manifest: one parquet file per config (`<source>-<strategy>`,
    `<source>`, `<source>-original`, `default`), the README card with its YAML configs, manifest.json
    take_subset(dataset, config, n) -> D_n, the first n queries with their paths; select(ds, n, paths_per_query,
    rounds) the same on a loaded Dataset; subset_sizes(total) -> the doubling amounts
Inside: build (configs, writers, the command), inputs (reading and checking run folders), counts, subsets, export
(`augmath export`). README.md here says why there is no GeneratorBasedBuilder script.
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "take_subset": "subsets", "subset_sizes": "subsets", "select": "subsets", "count_queries": "subsets",
    "local_cache_dir": "subsets", "load_config": "subsets", "BuildError": "build", "ConfigSpec": "build",
    "FEATURES": "build",
})
