"""bluegreen_sim: a local simulated cloud (AWS via moto, Spot, CodePipeline) that runs the real handler.

Not shipped in the Lambda zip. Entry points: the `bluegreen` command (`bluegreen_sim.cli:main`) and
`run_scenario()` for tests and tools;
`run_concurrent_pipelines()` for many pipelines at once under Spot's rate limit.
"""

from __future__ import annotations
