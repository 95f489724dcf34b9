"""bluegreen_sim: a local simulated cloud (AWS via moto, Spot, CodePipeline) that runs the real handler.

Not shipped in the Lambda zip. Entry points: the `bluegreen` command (`bluegreen_sim.cli:main`) and
`run_scenario()` for tests and tools.
"""

from __future__ import annotations
