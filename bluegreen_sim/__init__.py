"""bluegreen_sim: a local simulated cloud (AWS via moto, Spot, CodePipeline) that runs the real handler.

Not shipped in the Lambda zip. Entry points: the `bluegreen` command (`bluegreen_sim.cli:main`; its
`invoke` subcommand needs only the runtime dependencies, `simulate` the `sim` extra), `run_scenario()` for
tests and tools, and `run_concurrent_pipelines()` for many pipelines at once under Spot's rate limit.
"""

from __future__ import annotations
