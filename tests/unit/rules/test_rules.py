"""The rules file: defaults load, every invalid setting is named, TOML works."""

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from memberseg.errors import InputError
from memberseg.rules import Rules, default_rules_data, load_rules, parse_rules


def default_data() -> dict:
    return load_rules().model_dump(mode="json")


def error_for(data: dict) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_rules(yaml.safe_dump(data), source="custom.yaml")
    assert caught.value.code == "invalid_rules"
    assert caught.value.file == "custom.yaml"
    return caught.value


def test_defaults_load_and_match_the_spec():
    rules = load_rules()
    assert rules.consolidation.renewal_grace_days == 7
    assert rules.status.expiring_soon_days == 30
    assert rules.orders.savings_rate == 0.08
    assert [(t.label, t.min, t.inclusive) for t in rules.orders.tiers] == [
        ("Platinum", 10000, True), ("Gold", 5000, True), ("Silver", 1000, True), ("Bronze", 0, False)]
    assert [s.property for s in rules.segments] == [
        "active_membership", "expiring_soon", "expired_membership", "recently_renewed", "new_member",
        "not_enrolled", "high_value_customer", "high_value_at_risk", "low_value_at_risk"]
    assert rules.limits.max_rows == 1_048_576
    assert rules.inputs.date_order == "auto" and rules.inputs.date_order_default == "MDY"
    assert rules.inputs.decimal_separator == "auto" and rules.inputs.decimal_separator_default == "."


def _defaults_written_twice(model: type[BaseModel], data: dict, path: str = "") -> list[str]:
    """Keys of default_rules.yaml whose model field also carries a default of its own."""
    twice = []
    for key, value in data.items():
        field = model.model_fields[key]
        if not field.is_required():
            twice.append(f"{path}{key}")
        if isinstance(value, dict) and isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            twice += _defaults_written_twice(field.annotation, value, f"{path}{key}.")
    return twice


def test_every_default_is_written_once_in_default_rules_yaml():
    data = default_rules_data()
    assert _defaults_written_twice(Rules, data) == []
    assert set(Rules.model_fields) == set(data)   # and the file states every key
    with pytest.raises(ValidationError):          # so the model alone can build no rules
        Rules.model_validate({})


def test_negative_grace_days_names_the_key():
    data = default_data()
    data["consolidation"]["renewal_grace_days"] = -1
    assert "consolidation.renewal_grace_days" in error_for(data).message


def test_unknown_key_is_named():
    data = default_data()
    data["consolidation"]["renewal_grace_dayz"] = 3
    assert "consolidation.renewal_grace_dayz" in error_for(data).message


def test_unknown_segment_field_and_bad_op_are_named():
    data = default_data()
    data["segments"][0]["all"][0]["field"] = "favourite_colour"
    assert "segments.0.all.0" in error_for(data).message
    data = default_data()
    data["segments"][6]["all"][0]["op"] = "contains"
    message = error_for(data).message
    assert "segments.6.all.0" in message and "contains" in message


def test_unknown_threshold_reference_is_named():
    data = default_data()
    data["segments"][3]["all"][1]["value"] = [0, "$recnt_days"]
    message = error_for(data).message
    assert "segments.3.all.1.value" in message and "$recnt_days" in message


def test_invalid_hubspot_property_name_and_duplicates_are_rejected():
    data = default_data()
    data["segments"][0]["property"] = "Active Membership"
    assert "segments.0.property" in error_for(data).message
    data = default_data()
    data["segments"][1]["property"] = data["segments"][0]["property"]
    assert "segments.1.property" in error_for(data).message


def test_tiers_must_descend_and_required_fields_stay_required():
    data = default_data()
    data["orders"]["tiers"].reverse()
    assert "orders.tiers" in error_for(data).message
    data = default_data()
    data["inputs"]["memberships"]["fields"]["created_date"]["required"] = False
    assert "inputs.memberships" in error_for(data).message


def test_bad_enum_values_are_named():
    data = default_data()
    data["inputs"]["date_order"] = "YMD"
    assert "inputs.date_order" in error_for(data).message
    data = default_data()
    data["consolidation"]["dedupe_key"] = "phone"
    assert "consolidation.dedupe_key" in error_for(data).message
    data = default_data()
    data["status"]["timezone"] = "Mars/Olympus"
    assert "status.timezone" in error_for(data).message


def test_not_yaml_and_not_a_mapping():
    with pytest.raises(InputError, match="not valid YAML"):
        parse_rules("a: [1, 2", source="x.yaml")
    with pytest.raises(InputError, match="mapping"):
        parse_rules("- just a list", source="x.yaml")


def test_toml_rules_file(tmp_path):
    import tomli_w

    data = default_data()
    data["consolidation"]["renewal_grace_days"] = 3
    data["inputs"]["memberships"].pop("sheet")   # TOML has no null: leave optional keys out
    data["inputs"]["orders"].pop("sheet")
    data["engine"].pop("temp_directory")
    toml_path = tmp_path / "rules.toml"
    toml_path.write_text(tomli_w.dumps(data))
    assert load_rules(toml_path).consolidation.renewal_grace_days == 3
    broken = tmp_path / "broken.toml"
    broken.write_text("consolidation = {renewal_grace_days = }")
    with pytest.raises(InputError, match="not valid TOML"):
        load_rules(broken)


def test_missing_rules_file(tmp_path):
    with pytest.raises(InputError) as caught:
        load_rules(tmp_path / "nope.yaml")
    assert caught.value.code == "rules_not_found"


def test_digest_changes_with_the_rules():
    data = default_data()
    data["orders"]["savings_rate"] = 0.09
    assert parse_rules(yaml.safe_dump(data)).digest != load_rules().digest
    assert load_rules().digest == load_rules().digest


# --- Rules files are overlays --------------------------------------------------------------------

def test_a_rules_file_holds_only_what_it_changes(tmp_path):
    rules = parse_rules("consolidation: {renewal_grace_days: 3}\n", source="mine.yaml")
    assert rules.consolidation.renewal_grace_days == 3
    assert rules.status.expiring_soon_days == 30 and len(rules.segments) == 9   # the rest stays default


def test_a_full_copy_of_the_defaults_keeps_working():
    from importlib import resources

    text = resources.files("memberseg").joinpath("default_rules.yaml").read_text()
    assert parse_rules(text).digest == load_rules().digest


def test_mappings_merge_and_lists_replace():
    rules = parse_rules("inputs: {orders: {fields: {order_value: {aliases: [Betrag]}}}}\n"
                        "orders: {tiers: [{label: Any, min: 0}]}\n")
    fields = rules.inputs.orders.fields
    assert fields["order_value"].aliases == ["Betrag"] and fields["order_value"].required   # merged, list replaced
    assert "customer_id" in fields
    assert [tier.label for tier in rules.orders.tiers] == ["Any"]


def test_a_rules_file_can_change_a_profile_and_bad_changes_are_named():
    rules = parse_rules("profiles: {shopify_orders: {orders: {fields: {email: {aliases: [Customer Email]}}}}}")
    assert rules.catalog["shopify_orders"].orders.fields["email"].aliases == ["Customer Email"]
    assert rules.catalog["shopify_orders"].orders.fields["order_value"].aliases == ["Total"]
    with pytest.raises(InputError, match=r"profiles\.shopify_orders\.orders\.statuses"):
        parse_rules("profiles: {shopify_orders: {orders: {statuses: {paid: maybe}}}}")
    # a name that is not packaged defines a new profile: an empty one is refused, naming what it lacks
    with pytest.raises(InputError, match=r"profiles\.not_a_platform: a new profile needs title, platform, export, "
                                         r"source, memberships or orders; 'not_a_platform' is not a packaged profile"):
        parse_rules("profiles: {not_a_platform: {}}")


def test_every_profile_names_its_source_and_what_it_reads():
    for profile in load_rules().catalog.values():
        assert profile.source and profile.export and profile.roles()


def test_an_old_full_copy_of_the_rules_still_loads_and_keeps_its_fixed_locale():
    rules = parse_rules("inputs: {date_order: MDY, decimal_separator: '.'}")
    assert (rules.inputs.date_order, rules.inputs.decimal_separator) == ("MDY", ".")
