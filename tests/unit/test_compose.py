"""docker-compose.yml cannot run here (no Docker engine): check that it parses, that it
names only real settings and current pinned images, that nothing secret has a default, that
the operators' UI is read-only and on loopback, that it starts things in an order that
works, and that the production rehearsal runs exactly its commands and variables."""

from __future__ import annotations

import re

import pytest

from relais.cli import main
from relais.settings import Settings
from tests import compose
from tests.compose import SERVICES, MissingVariable, interpolate, variables_used
from tests.system.rehearsal import ADDED, OVERRIDDEN, PROCESS_SERVICES, Where, launch
from workflows.common import SEARCH_ATTRIBUTES

FIELDS = {f"RELAIS_{name.upper()}" for name in Settings.model_fields}
DEPLOY = compose.ROOT / "deploy"
TEMPORAL_VERSION = "1.32.0"  # temporalio/server and admin-tools: one release, one schema
UI_VERSION = "2.54.1"
SAMPLE = {  # what an operator's .env holds
    "POSTGRES_PASSWORD": "pg-secret",
    "RELAIS_PAYLOAD_KEY": "cGF5bG9hZC1rZXktZm9yLXRoZS10ZXN0cy0zMi1ieSE=",
    "RELAIS_DATA_KEY": "ZGF0YS1rZXktZm9yLXRoZS10ZXN0cy0zMi1ieXRlcyE=",
    "RELAIS_PUBLIC_URL": "https://relais.example.fr",
    "RELAIS_SMTP_HOST": "smtp.example.fr",
    "RELAIS_SMTP_USERNAME": "",
    "RELAIS_SMTP_PASSWORD": "",
    "RELAIS_MAIL_FROM": "Réseau <ne-pas-repondre@example.fr>",
}


def test_the_stack_has_every_part():
    assert set(SERVICES) == {
        "postgres",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "migrate",
        "worker",
        "api",
    }


def test_images_are_current_and_pinned():
    images = {name: svc["image"] for name, svc in SERVICES.items() if "image" in svc}
    assert images == {
        "postgres": "postgres:16",  # the major pins the data format; minors are fixes
        "temporal-schema": f"temporalio/admin-tools:{TEMPORAL_VERSION}",
        "temporal": f"temporalio/server:{TEMPORAL_VERSION}",
        "temporal-setup": f"temporalio/admin-tools:{TEMPORAL_VERSION}",
        "temporal-ui": f"temporalio/ui:{UI_VERSION}",
    }
    assert "auto-setup" not in compose.TEXT  # deprecated upstream, no longer built
    for name in ("migrate", "worker", "api"):
        assert SERVICES[name]["build"] == "."


def test_every_relais_variable_is_a_setting():
    for name, svc in SERVICES.items():
        for var in svc.get("environment", {}) or {}:
            if var.startswith("RELAIS_") and name != "temporal-setup":
                assert var in FIELDS, f"{name}: {var} is not a Settings field"


@pytest.mark.parametrize(
    "secret", ["POSTGRES_PASSWORD", "RELAIS_PAYLOAD_KEY", "RELAIS_DATA_KEY", "RELAIS_SMTP_PASSWORD"]
)
def test_no_secret_has_a_default(secret):
    uses = [op for name, op in variables_used(compose.TEXT) if name == secret]
    assert uses, secret
    assert set(uses) <= {":?", "?"}, f"{secret} used as {uses}: it must be required"
    with pytest.raises(MissingVariable, match=secret):
        for name in (*PROCESS_SERVICES, "postgres", "temporal", "temporal-schema"):
            compose.environment(name, {k: v for k, v in SAMPLE.items() if k != secret})


def test_no_literal_secret_in_the_file():
    for svc in SERVICES.values():
        for var, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|PWD|KEY|SECRET|TOKEN", var):
                assert str(value).startswith("${"), var


def test_the_temporal_ui_is_read_only_on_loopback_and_decodes_through_relais():
    ui = SERVICES["temporal-ui"]
    assert ui["ports"] == ["127.0.0.1:8233:8080"]
    env = compose.environment("temporal-ui", SAMPLE)
    assert env["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert env["TEMPORAL_CODEC_ENDPOINT"] == "https://relais.example.fr/codec"
    assert env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    # The API lets exactly the UI's origin call the codec endpoint with credentials.
    api = compose.environment("api", SAMPLE)
    assert api["RELAIS_CODEC_CORS_ORIGINS"] == env["TEMPORAL_CORS_ORIGINS"]
    assert SERVICES["api"]["ports"] == ["127.0.0.1:8000:8000"]  # behind the proxy only
    for name, svc in SERVICES.items():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} published beyond loopback"


def test_one_namespace_everywhere():
    ns = compose.environment("worker", SAMPLE)["RELAIS_TEMPORAL_NAMESPACE"]
    assert compose.environment("temporal-setup", SAMPLE)["RELAIS_NAMESPACE"] == ns
    assert compose.environment("temporal-ui", SAMPLE)["TEMPORAL_DEFAULT_NAMESPACE"] == ns


def test_relais_services_get_what_settings_require_outside_dev():
    for name in ("migrate", "worker", "api"):
        env = compose.environment(name, SAMPLE)
        settings = Settings(_env_file=None, **{k[7:].lower(): v for k, v in env.items()})
        assert not settings.dev_mode and settings.json_logs
        assert settings.smtp_username is None and settings.smtp_password is None


def test_start_order_is_gated_on_health_and_completion():
    def dep(service: str, on: str) -> str:
        return SERVICES[service]["depends_on"][on]["condition"]

    assert "healthcheck" in SERVICES["postgres"]
    assert dep("temporal-schema", "postgres") == "service_healthy"
    assert dep("temporal", "temporal-schema") == "service_completed_successfully"
    assert dep("temporal-setup", "temporal") == "service_healthy"
    assert dep("temporal-ui", "temporal-setup") == "service_completed_successfully"
    assert dep("migrate", "postgres") == "service_healthy"
    for name in ("worker", "api"):
        assert dep(name, "migrate") == "service_completed_successfully"
        assert dep(name, "temporal-setup") == "service_completed_successfully"
    for one_shot in ("temporal-schema", "temporal-setup", "migrate"):
        assert SERVICES[one_shot]["restart"] == "no"


def test_healthchecks_run_commands_that_exist():
    assert SERVICES["api"]["healthcheck"]["test"] == ["CMD", "relais", "health"]
    assert SERVICES["worker"]["healthcheck"]["test"] == ["CMD", "relais", "health", "--worker"]
    assert SERVICES["temporal"]["healthcheck"]["test"][:2] == ["CMD", "nc"]
    for argv in (["health", "--help"], ["health", "--worker", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
    assert 'CMD ["relais", "health"]' in (compose.ROOT / "Dockerfile").read_text()


def test_temporal_schema_setup_is_rerunnable():
    script = (DEPLOY / "temporal-schema.sh").read_text()
    assert compose.command("temporal-schema") == ["sh", "/deploy/temporal-schema.sh"]
    for db, schema in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        assert f"--db {db} setup-schema -v 0.0" in script
        assert f'--db {db} update-schema -d "$schemas/{schema}/versioned"' in script
    assert "create-database" in script and "set -eu" in script
    env = compose.environment("temporal-schema", SAMPLE)
    assert env["SQL_PLUGIN"] == "postgres12" and env["SQL_HOST"] == "postgres"
    server = compose.environment("temporal", SAMPLE)
    assert server["DB"] == env["SQL_PLUGIN"] and server["POSTGRES_SEEDS"] == env["SQL_HOST"]
    mounted = SERVICES["temporal"]["volumes"][0].split(":")
    assert (compose.ROOT / mounted[0]).is_file()
    assert server["DYNAMIC_CONFIG_FILE_PATH"] == mounted[1]


def test_search_attributes_registered_match_the_code():
    script = (DEPLOY / "temporal-setup.sh").read_text()
    registered = set(re.search(r"for sa in ([\w ]+); do", script).group(1).split())
    assert registered == {k.name for k in SEARCH_ATTRIBUTES}
    assert "--type Keyword" in script  # the type workflows.common declares
    assert {k.indexed_value_type.name for k in SEARCH_ATTRIBUTES} == {"KEYWORD"}


def test_the_image_copies_every_package_and_runs_unprivileged():
    dockerfile = (compose.ROOT / "Dockerfile").read_text()
    packages = {p.parent.name for p in compose.ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    for pkg in packages:
        assert f"COPY {pkg} {pkg}" in dockerfile, pkg
    assert re.search(r"^USER relais$", dockerfile, re.M)


def test_interpolation_follows_compose():
    v = {"A": "x", "E": ""}
    assert interpolate("${A}-${B:-d}-${E:-d}-${E-d}-$$HOME", v) == "x-d-d--$HOME"
    assert interpolate("${E?must be set}", v) == ""
    with pytest.raises(MissingVariable):
        interpolate("${E:?must not be empty}", v)
    with pytest.raises(MissingVariable):
        interpolate("${B?must be set}", v)


def test_the_rehearsal_runs_what_compose_describes():
    """The rehearsal's processes: compose's command, compose's RELAIS_* variables with
    compose's values, but for the host names and the per-instance variables it declares."""
    where = Where(pg_socket="/run/pg", temporal_port=17233)
    for service in PROCESS_SERVICES:
        instance = {k: "x" for k in OVERRIDDEN.get(service, set()) | ADDED.get(service, set())}
        ran = launch(service, SAMPLE, where, **instance)
        described = compose.environment(service, SAMPLE)
        argv = [a.replace(f"{compose.ROOT}/deploy/", "/deploy/") for a in ran.argv]
        assert argv == compose.command(service), service
        assert set(ran.env) == set(described) | ADDED.get(service, set()), service
        for var, value in described.items():
            if var in instance:
                continue
            if "postgres:5432" in value or "temporal:7233" in value:
                assert ran.env[var] == where.rewrite(value) != value
            else:
                assert ran.env[var] == value, (service, var)
    url = launch("migrate", SAMPLE, where).env["RELAIS_DATABASE_URL"]
    assert url == "postgresql://relais:pg-secret@/relais?host=/run/pg"
