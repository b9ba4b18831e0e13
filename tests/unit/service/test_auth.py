"""Token configuration, verification and scopes (service/auth.py), no I/O."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from schemas import Network
from service.auth import TokenRegistry, config_line, mint_token, parse_line, parse_lines
from service.errors import ConfigError


def _registry(network: Network, *lines: str) -> TokenRegistry:
    return TokenRegistry(parse_lines("\n".join(lines), "test"), network)


def test_minted_tokens_are_long_random_and_prefixed() -> None:
    tokens = {mint_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith("siaga_") and len(t) >= 6 + 43 for t in tokens)


def test_a_config_line_holds_the_hash_never_the_token(network: Network) -> None:
    token = mint_token()
    line = config_line("bogor-gw", "gateway", token, stations=["katulampa"])
    assert token not in line
    assert f"sha256:{hashlib.sha256(token.encode()).hexdigest()}" in line
    identity = _registry(network, line).verify(token)
    assert identity is not None
    assert (identity.name, identity.kind, identity.stations) == (
        "bogor-gw", "gateway", frozenset({"katulampa"}))


def test_wrong_empty_and_oversize_tokens_are_not_valid(network: Network) -> None:
    token = mint_token()
    registry = _registry(network, config_line("ops", "operator", token))
    assert registry.verify(token) is not None
    assert registry.verify(token[:-1]) is None
    assert registry.verify(token + "x") is None
    assert registry.verify("") is None
    assert registry.verify("x" * 100_000) is None


def test_two_tokens_of_one_name_are_valid_at_once_for_rotation(network: Network) -> None:
    old, new = mint_token(), mint_token()
    registry = _registry(
        network,
        config_line("bogor-gw", "gateway", old, regions=["kota-bogor"]),
        config_line("bogor-gw", "gateway", new, regions=["kota-bogor"]),
    )
    assert registry.verify(old) == registry.verify(new)
    assert registry.verify(old) is not None


def test_gateway_scope_by_stations_and_by_regions(network: Network) -> None:
    by_region = mint_token()
    everything = mint_token()
    registry = _registry(
        network,
        config_line("bogor-gw", "gateway", by_region, stations=["depok"], regions=["kota-bogor"]),
        config_line("demo", "gateway", everything, stations=["*"]),
    )
    bogor = registry.verify(by_region)
    assert bogor is not None and bogor.stations is not None
    kota_bogor = {s.id for s in network.stations if s.region_id == "kota-bogor"}
    assert "katulampa" in kota_bogor
    assert bogor.stations == kota_bogor | {"depok"}
    assert bogor.may_report("katulampa") and not bogor.may_report("manggarai")
    demo = registry.verify(everything)
    assert demo is not None and demo.may_report("manggarai") and demo.may_report("atlantis")
    assert registry.gateway_may_report("bogor-gw", "manggarai") is False
    assert registry.gateway_may_report("bogor-gw", "katulampa") is True
    assert registry.gateway_may_report("nobody", "katulampa") is None


def test_only_gateways_may_report(network: Network) -> None:
    ops, sub = mint_token(), mint_token()
    registry = _registry(network, config_line("ops", "operator", ops),
                         config_line("jkt", "subscriber", sub, region="dki-jakarta"))
    for token in (ops, sub):
        identity = registry.verify(token)
        assert identity is not None and not identity.may_report("manggarai")


@pytest.mark.parametrize(("line", "complaint"), [
    ("ops operator", "expected '<name> <kind> sha256:<hex>'"),
    ("ops admin sha256:" + "0" * 64, "kind must be one of"),
    ("ops operator siaga_plaintoken", "never the token itself"),
    ("ops operator sha256:" + "0" * 63, "never the token itself"),
    ("bad/name operator sha256:" + "0" * 64, "name must match"),
    ("ops operator sha256:" + "0" * 64 + " region=dki-jakarta", "takes no scope"),
    ("jkt subscriber sha256:" + "0" * 64, "exactly one region="),
    ("jkt subscriber sha256:" + "0" * 64 + " region=a,b", "exactly one region="),
    ("gw gateway sha256:" + "0" * 64, "needs stations= and/or regions="),
    ("gw gateway sha256:" + "0" * 64 + " stations=*,depok", "stands alone"),
    ("gw gateway sha256:" + "0" * 64 + " stations=", "names nothing"),
    ("gw gateway sha256:" + "0" * 64 + " colour=red", "unexpected field"),
])
def test_malformed_lines_say_what_is_wrong(line: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint.replace("*", r"\*").replace("(", r"\(")):
        parse_line(line)


def test_unknown_ids_fail_at_start_instead_of_denying_silently(network: Network) -> None:
    digest = "sha256:" + "0" * 64
    with pytest.raises(ConfigError, match="unknown station"):
        _registry(network, f"gw gateway {digest} stations=katulampa,atlantis")
    with pytest.raises(ConfigError, match="unknown region"):
        _registry(network, f"sub subscriber {digest} region=atlantis")
    with pytest.raises(ConfigError, match="configured twice"):
        _registry(network, f"a operator {digest}", f"b operator {digest}")


def test_error_messages_never_echo_a_pasted_token() -> None:
    token = mint_token()
    with pytest.raises(ConfigError) as caught:
        parse_line(f"ops operator sha256:{'0' * 64} {token}")
    assert token not in str(caught.value)


def test_tokens_come_from_the_env_line_and_a_file_with_comments(
    network: Network, tmp_path: Path
) -> None:
    a, b = mint_token(), mint_token()
    file = tmp_path / "tokens"
    file.write_text("# gateways\n" + config_line("gw", "gateway", b, stations=["depok"])
                    + "  # Pos Depok\n\n")
    registry = TokenRegistry.from_sources(config_line("ops", "operator", a) + " ;", file,
                                          network)
    assert len(registry) == 2
    assert registry.verify(a) is not None and registry.verify(b) is not None
    with pytest.raises(ConfigError, match="cannot read SIAGA_TOKENS_FILE"):
        TokenRegistry.from_sources(None, tmp_path / "missing", network)
