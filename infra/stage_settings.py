"""One stage's deployment settings: the tracked defaults plus the deployment's own overlay.

``zappa_settings.json`` (tracked) holds what every deployment shares: the app, the
anonymity-critical logging settings, the runtime, the excludes. What belongs to one
deployment (its region, bucket, domain and certificate, its public address, tags,
limits) lives in ``deploy/<stage>.json``, which git ignores, so ``git pull`` never
meets a locally edited tracked file. ``infra/package.py`` and ``infra/deploy.py``
merge the two into ``dist/zappa_settings.<stage>.json``, the file Zappa is given
with ``-s``.

Rules of the merge:

* ``extends`` is resolved first, shallowly, as Zappa does;
* the overlay may set only the keys in ``OVERLAY_KEYS``: logging, debug, roles,
  runtime, excludes and events stay as the project ships them (the anonymity and
  least-privilege promises rest on them);
* ``environment_variables`` and ``tags`` are merged name by name, every other key
  is replaced; ``null`` removes a key (e.g. ``"lambda_concurrency": null``);
* with a ``domain``, ``PORTAL_PUBLIC_URL`` follows it (``https://<domain>``): set
  both only if they agree;
* ``certificate_arn`` must be in ``us-east-1`` for an EDGE endpoint (CloudFront
  serves it) and in the stage's ``aws_region`` for a REGIONAL one;
* keys starting with ``portal_`` are this project's own deployment settings (API
  stage throttling, stack parameters): ``infra/deploy.py`` applies them, and they are
  left out of the file Zappa reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ZAPPA_SETTINGS = ROOT / "zappa_settings.json"
OVERLAY_DIR = ROOT / "deploy"
GENERATED_DIR = ROOT / "dist"
#: What a deployment may set in deploy/<stage>.json.
OVERLAY_KEYS = frozenset(
    {
        "aws_region",
        "s3_bucket",
        "domain",
        "certificate_arn",
        "endpoint_configuration",
        "memory_size",
        "lambda_concurrency",
        "tags",
        "environment_variables",
        "portal_api_throttling",
        "portal_stack_parameters",
        "portal_route53_hosted_zone_id",
    }
)
#: Merged name by name instead of replaced.
MERGED_KEYS = ("environment_variables", "tags")
#: Environment variables an overlay may not change: they choose production mode and storage.
FIXED_VARIABLES = frozenset({"PORTAL_ENV", "PORTAL_STORAGE"})
PORTAL_PREFIX = "portal_"
ENDPOINT_TYPES = frozenset({"EDGE", "REGIONAL"})
EDGE_CERTIFICATE_REGION = "us-east-1"
ACM_ARN = re.compile(r"^arn:aws[\w-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[\w-]+$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SettingsError(Exception):
    """The stage's settings are unusable; the message says what to change where."""


def overlay_path(stage: str) -> Path:
    """Return where the deployment's own settings for ``stage`` live."""
    return OVERLAY_DIR / f"{stage}.json"


def generated_path(stage: str) -> Path:
    """Return where the merged settings Zappa reads for ``stage`` are written."""
    return GENERATED_DIR / f"zappa_settings.{stage}.json"


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold one JSON object.")
    return data


def tracked_stage(stage: str, defaults: Path = ZAPPA_SETTINGS) -> dict[str, Any]:
    """Return ``stage`` from the tracked settings with ``extends`` resolved (shallowly)."""
    stages = _load_json(defaults)
    if stage not in stages:
        raise SettingsError(f"{defaults.name} has no stage {stage!r} (it has {sorted(stages)}).")
    chain: list[str] = []
    name: str | None = stage
    while name is not None:
        if name in chain:
            raise SettingsError(f"{defaults.name}: circular extends through {name!r}")
        chain.append(name)
        name = stages[name].get("extends")
    settings: dict[str, Any] = {}
    for name in reversed(chain):
        settings.update(stages[name])
    settings.pop("extends", None)
    return settings


def apply_overlay(settings: dict[str, Any], overlay: dict[str, Any], source: str) -> dict[str, Any]:
    """Return ``settings`` with ``overlay`` applied by the module's merge rules."""
    unknown = sorted(set(overlay) - OVERLAY_KEYS)
    if unknown:
        raise SettingsError(
            f"{source} may not set {', '.join(unknown)}: a deployment may set only "
            f"{', '.join(sorted(OVERLAY_KEYS))} (the rest is shared and tracked in "
            "zappa_settings.json)."
        )
    merged = dict(settings)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif key in MERGED_KEYS:
            if not isinstance(value, dict):
                raise SettingsError(f"{source}: {key} must be an object of names and values.")
            combined = {**merged.get(key, {}), **value}
            merged[key] = {name: v for name, v in combined.items() if v is not None}
        else:
            merged[key] = value
    shipped = settings.get("environment_variables", {})
    given = overlay.get("environment_variables") or {}
    changed = [n for n in sorted(FIXED_VARIABLES) if n in given and given[n] != shipped.get(n)]
    if changed:
        raise SettingsError(f"{source} may not change {', '.join(sorted(changed))}.")
    return merged


def _check_domain(settings: dict[str, Any], source: str) -> None:
    endpoint = settings.get("endpoint_configuration", ["EDGE"])
    if not isinstance(endpoint, list) or len(endpoint) != 1 or not set(endpoint) <= ENDPOINT_TYPES:
        raise SettingsError(f'{source}: endpoint_configuration must be ["REGIONAL"] or ["EDGE"].')
    domain = settings.get("domain")
    if domain is None:
        if "certificate_arn" in settings:
            raise SettingsError(f"{source}: certificate_arn is set but no domain.")
        return
    if not isinstance(domain, str) or not DOMAIN.match(domain):
        raise SettingsError(
            f"{source}: domain {domain!r} is not a host name like survey.example.com "
            "(lower case, no scheme, no path)."
        )
    arn = settings.get("certificate_arn")
    if not arn:
        raise SettingsError(
            f"{source}: domain {domain} needs certificate_arn, an ACM certificate for it."
        )
    match = ACM_ARN.match(str(arn))
    if not match:
        raise SettingsError(f"{source}: certificate_arn {arn!r} is not an ACM certificate ARN.")
    wanted = EDGE_CERTIFICATE_REGION if endpoint == ["EDGE"] else settings.get("aws_region")
    if match["region"] != wanted:
        raise SettingsError(
            f"{source}: certificate_arn is in {match['region']}, but a {endpoint[0]} endpoint "
            f"needs the certificate in {wanted}"
            + (" (CloudFront serves EDGE domains)." if endpoint == ["EDGE"] else ".")
        )


def _public_url(settings: dict[str, Any], source: str) -> None:
    """Make ``PORTAL_PUBLIC_URL`` follow the domain; refuse one that disagrees with it."""
    variables = dict(settings.get("environment_variables", {}))
    given = variables.get("PORTAL_PUBLIC_URL")
    if given is not None and not str(given).startswith("https://"):
        raise SettingsError(f"{source}: PORTAL_PUBLIC_URL must start with https://.")
    domain = settings.get("domain")
    if domain is None:
        return
    wanted = f"https://{domain}"
    if given is not None and str(given).rstrip("/") != wanted:
        raise SettingsError(
            f"{source}: PORTAL_PUBLIC_URL is {given} but the domain is {domain}. Leave "
            "PORTAL_PUBLIC_URL out: it follows the domain."
        )
    variables["PORTAL_PUBLIC_URL"] = wanted
    settings["environment_variables"] = variables


def _check_limits(settings: dict[str, Any], source: str) -> None:
    concurrency = settings.get("lambda_concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise SettingsError(f"{source}: lambda_concurrency must be a whole number from 1, or null.")
    throttling = settings.get("portal_api_throttling")
    if throttling is not None:
        if not isinstance(throttling, dict) or set(throttling) != {"rate_limit", "burst_limit"}:
            raise SettingsError(
                f"{source}: portal_api_throttling must be "
                '{"rate_limit": <requests per second>, "burst_limit": <requests>}, or null.'
            )
        for name, value in throttling.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SettingsError(f"{source}: portal_api_throttling.{name} must be above 0.")


def stage_settings(
    stage: str, overlay: Path | None = None, defaults: Path = ZAPPA_SETTINGS
) -> dict[str, Any]:
    """Return the stage's settings: the tracked defaults, then ``overlay`` if given and present.

    ``overlay`` defaults to ``deploy/<stage>.json``; a missing file means no overlay.
    The result still holds the ``portal_*`` keys (see ``zappa_view``).
    """
    settings = tracked_stage(stage, defaults)
    path = overlay_path(stage) if overlay is None else overlay
    source = defaults.name
    if path.exists():
        source = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        settings = apply_overlay(settings, _load_json(path), source)
    _check_domain(settings, source)
    _public_url(settings, source)
    _check_limits(settings, source)
    return settings


def zappa_view(settings: dict[str, Any]) -> dict[str, Any]:
    """Return ``settings`` without this project's own ``portal_*`` keys: what Zappa reads."""
    return {k: v for k, v in settings.items() if not k.startswith(PORTAL_PREFIX)}


def write_zappa_settings(stage: str, settings: dict[str, Any], path: Path | None = None) -> Path:
    """Write ``{stage: zappa_view(settings)}`` for ``zappa -s`` and return its path."""
    target = generated_path(stage) if path is None else path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({stage: zappa_view(settings)}, indent=4) + "\n")
    return target
