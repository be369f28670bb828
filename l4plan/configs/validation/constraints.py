"""Product constraints (docs/constraints.md) on an evaluated configuration.

Runs on the resources and rule blocks that passed their JSON Schema (`failed` holds
those that did not), so attribute types are known to be right; values only known
after apply are skipped. This module checks sites and placement (L4E001, L4E008, L4E009, L4W001,
L4W002, references to sites and agents, the `dns` block's L4E021 in `dns`) and calls the rule checks
(`constraints_ports`) and the name checks (`constraints_names`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from l4plan import codes
from l4plan.configs.model import Config, ResourceInstance
from l4plan.configs.validation.context import Context, known
from l4plan.configs.validation.dns import check_dns
from l4plan.configs.validation.names import check_domains, check_origins, check_sources
from l4plan.configs.validation.ports import RulePorts, check_listener_conflicts, check_rules
from l4plan.configs.validation.schema import SchemaFailures
from l4plan.diagnostics import Diagnostic
from l4plan.durations import parse_duration

EXPIRY_WARNING = timedelta(days=14)
KEEPALIVE_CONFLICTS = ("china_mainland_network_optimization", "fixed_ipv4")


def check_constraints(config: Config, failed: SchemaFailures, now: datetime) -> list[Diagnostic]:
    """Every constraint diagnostic of `config`, in the order the checks find them."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    ctx = Context.build(config, failed)
    for site in ctx.valid("l4_site"):
        _check_agent_names(ctx, site)
        _check_expiry(ctx, site, now)
        check_dns(ctx, site)
    placed: list[tuple[ResourceInstance, list[str], list[RulePorts]]] = []
    for app in ctx.valid("l4_application"):
        site = ctx.site_of(app)
        if site is not None:
            _check_site_features(ctx, app, site, now)
        _check_agent_names(ctx, app)
        listening = check_rules(ctx, app)
        agents = _placement(ctx, app, site)
        if agents:
            placed.append((app, agents, listening))
    check_listener_conflicts(ctx, placed)
    for acl in ctx.valid("l4_ip_access_rule"):
        ctx.site_of(acl)
    check_sources(ctx)
    for lb in ctx.valid("l4_load_balancer"):
        _check_health_check(ctx, lb)
    balancers = check_domains(ctx)
    check_origins(ctx, balancers)
    return ctx.diagnostics


# what the agent accepts (schemas/rpc/app_spec.schema.json, health_check)
HEALTH_CHECK_LIMITS_MS = {"interval": (100, 3_600_000), "timeout": (10, 3_600_000)}


def _check_health_check(ctx: Context, lb: ResourceInstance) -> None:
    check = lb.attrs.get("health_check") or {}
    for field, (least, most) in HEALTH_CHECK_LIMITS_MS.items():
        value = check.get(field)
        if not isinstance(value, str) or not known(value):
            continue
        ms = round(parse_duration(value) * 1000)
        if not least <= ms <= most:
            ctx.report(
                codes.SCHEMA,
                f'health_check.{field} = "{value}" is out of range: use {least}ms to 1h',
                lb,
                f"health_check.{field}",
            )


def expires_at(site: ResourceInstance) -> datetime | None:
    """The site's `ddos_protection.expires_at` as an aware datetime, when set and valid."""
    ddos = site.attrs.get("ddos_protection")
    if not isinstance(ddos, dict) or not isinstance(ddos.get("expires_at"), str):
        return None
    try:
        when = datetime.fromisoformat(ddos["expires_at"].upper())
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _check_expiry(ctx: Context, site: ResourceInstance, now: datetime) -> None:
    """L4W001/L4W002, and L4E016 for a timestamp of the right shape that is no date."""
    ddos = site.attrs.get("ddos_protection")
    if not isinstance(ddos, dict) or not isinstance(ddos.get("expires_at"), str):
        return
    when = expires_at(site)
    path = "ddos_protection.expires_at"
    if when is None:
        ctx.report(
            codes.SCHEMA,
            f'ddos_protection.expires_at "{ddos["expires_at"]}" is not a real date and time',
            site,
            path,
        )
        return
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when.utcoffset() == timedelta(0) else str(when)
    users = [
        app.address
        for app in ctx.valid("l4_application")
        if app.attrs.get("site") == site.attrs.get("id") and app.attrs.get("keepalive_protection")
    ]
    affected = f" (applications using it: {', '.join(users)})" if users else ""
    if when <= now:
        ctx.report(
            codes.DDOS_EXPIRED,
            f"ddos_protection expired at {stamp}: keep-alive protection is treated as"
            f" disabled{affected}, and plan shows that change; renew the protection and"
            " update expires_at",
            site,
            path,
            severity="warning",
        )
    elif when - now <= EXPIRY_WARNING:
        days = (when - now).days
        left = f"in {days} day{'s' if days != 1 else ''}" if days else "within a day"
        ctx.report(
            codes.DDOS_EXPIRING,
            f"ddos_protection expires {left} ({stamp}); after that keep-alive protection is"
            f" treated as disabled{affected}: renew the protection and update expires_at",
            site,
            path,
            severity="warning",
        )


def _check_site_features(
    ctx: Context, app: ResourceInstance, site: ResourceInstance, now: datetime
) -> None:
    """L4E001 (plan), L4E008 and L4E009 (keep-alive protection vs site features)."""
    plan = site.attrs["plan"]
    if known(plan) and plan != "enterprise":
        ctx.report(
            codes.SITE_PLAN,
            f'site "{site.attrs["name"]}" ({site.address}) has plan = "{plan}"; Layer 4'
            ' applications need plan = "enterprise": upgrade the site or move the application',
            app,
            "site",
        )
    if app.attrs.get("keepalive_protection") is not True:
        return
    enabled = [name for name in KEEPALIVE_CONFLICTS if site.attrs.get(name) is True]
    if enabled:
        settings = " and ".join(f"{name} = true" for name in enabled)
        ctx.report(
            codes.KEEPALIVE_SITE,
            f"keepalive_protection cannot be used because {site.address} has {settings};"
            " turn keepalive_protection off, or turn those site features off",
            app,
            "keepalive_protection",
        )
    ddos = site.attrs.get("ddos_protection")
    mode = ddos.get("mode") if isinstance(ddos, dict) else "off"
    if known(mode) and mode != "full":
        ctx.report(
            codes.KEEPALIVE_DDOS,
            f'keepalive_protection needs ddos_protection mode = "full" on {site.address},'
            f' which has mode = "{mode}"; set mode = "full" there or turn'
            " keepalive_protection off",
            app,
            "keepalive_protection",
        )


def _check_agent_names(ctx: Context, resource: ResourceInstance) -> None:
    """L4E015 for `agents` entries that name no agent block."""
    agents = resource.attrs.get("agents")
    if not isinstance(agents, list):
        return
    for index, name in enumerate(agents):
        if isinstance(name, str) and name not in ctx.config.agents:
            declared = ", ".join(sorted(ctx.config.agents)) or "none"
            ctx.report(
                codes.REFERENCE,
                f'agents[{index}] "{name}" is not a declared agent (agents: {declared});'
                ' write agents = [agent.NAME] with an agent "NAME" { ... } block',
                resource,
                f"agents.{index}",
            )


def _placement(
    ctx: Context, app: ResourceInstance, site: ResourceInstance | None
) -> list[str] | None:
    """The declared agents that serve `app`, None when not known at plan time.

    An application without `agents` uses its site's; one that ends up with none is an
    L4E016 error (nothing would serve it).
    """
    agents = app.attrs.get("agents")
    if agents is None and site is not None:
        agents = site.attrs.get("agents")
    if not known(agents) or (agents is None and site is None):
        return None
    if not agents:
        ctx.report(
            codes.SCHEMA,
            "the application has no agents to run on; set agents = [agent.NAME] on the"
            " application or on its site",
            app,
            "agents" if "agents" in app.attrs else "",
        )
        return None
    return [name for name in agents if known(name) and name in ctx.config.agents]
