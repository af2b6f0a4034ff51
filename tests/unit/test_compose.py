"""docker-compose.yml cannot run here (no Docker engine): check that it parses, that it
names only real settings, and that it starts things in an order that works."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from relais.settings import Settings
from workflows.common import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
FIELDS = {f"RELAIS_{name.upper()}" for name in Settings.model_fields}


def test_the_stack_has_every_part():
    assert set(SERVICES) >= {
        "postgres",
        "temporal",
        "temporal-ui",
        "temporal-setup",
        "migrate",
        "worker",
        "api",
    }


def test_every_relais_variable_is_a_setting():
    for name, svc in SERVICES.items():
        for var in svc.get("environment", {}) or {}:
            if var.startswith("RELAIS_"):
                assert var in FIELDS, f"{name}: {var} is not a Settings field"


def test_relais_services_get_what_settings_require_outside_dev():
    required = {
        "RELAIS_DATABASE_URL",
        "RELAIS_TEMPORAL_ADDRESS",
        "RELAIS_PAYLOAD_KEY",
        "RELAIS_DATA_KEY",
    }
    for name in ("migrate", "worker", "api"):
        env = SERVICES[name]["environment"]
        assert required <= set(env), name
        assert "RELAIS_DEV_MODE" not in env


def test_start_order_is_gated_on_health_and_migration():
    assert "healthcheck" in SERVICES["postgres"]
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["temporal"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "api"):
        deps = SERVICES[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["temporal-setup"]["condition"] == "service_completed_successfully"
    assert SERVICES["migrate"]["command"] == ["relais", "migrate"]


def test_search_attributes_registered_match_the_code():
    script = " ".join(SERVICES["temporal-setup"]["command"])
    registered = set(re.search(r"for sa in ([\w ]+);", script).group(1).split())
    assert registered == {k.name for k in SEARCH_ATTRIBUTES}


def test_the_image_copies_every_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    for pkg in packages:
        assert f"COPY {pkg} {pkg}" in dockerfile, pkg
