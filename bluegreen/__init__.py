"""bluegreen: blue/green CodeDeploy deployments onto Spot Elastigroup capacity, driven by CodePipeline.

The Lambda handler string is `bluegreen.lambda_handler`.
"""

from __future__ import annotations

from bluegreen.handler import lambda_handler

__all__ = ["lambda_handler"]
__version__ = "1.0.0"
