"""Profiles users write: a rules file (or an organisation's profile file) defines a new profile under
`profiles.<name>` in the language of the packaged ones, and it is recognised, read, listed and checked
like them.

The worked example is Steady's members export (no packaged profile), written from Steady's help
centre, "Export list and information about your members in CSV format"
(https://help.steadyhq.com/en/articles/6265612): the columns first_name, last_name, email, plan_name,
plan_monthly_amount_cents, gifted, subscription_period, subscription_state and subscribed_at, and the
states active, in_trial, guest, not_renewing and cancelled. The page names expires_at only in its text
(a not_renewing membership runs "until the end of the billing period (trial_ends_at or expires_at)"),
so the profile lists that as unconfirmed. docs/rules.md ("Your own profile") shows the same file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memberseg.errors import InputError
from memberseg.headers import candidate_profiles, find_header
from memberseg.rules import ProfileFile, load_rules, packaged_profiles, parse_rules
from platform_files import SHOPIFY, csv_rows, member, run, write
from steady_profile import STEADY, STEADY_RULES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "rules.md"


def steady_members(path: Path) -> Path:
    return write(path, STEADY, [
        {"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.com", "plan_name": "Supporter",
         "plan_monthly_amount_cents": 500, "gifted": "FALSE", "subscription_period": "monthly",
         "subscription_state": "active", "subscribed_at": "2025-03-01", "expires_at": "2026-12-01"},
        {"first_name": "Bo", "last_name": "Li", "email": "bo@example.com", "plan_name": "Supporter",
         "plan_monthly_amount_cents": 500, "gifted": "TRUE", "subscription_period": "annual",
         "subscription_state": "not_renewing", "subscribed_at": "2025-11-20", "expires_at": "2026-11-20"},
        {"first_name": "Cy", "last_name": "Om", "email": "cy@example.com", "plan_name": "Patron",
         "plan_monthly_amount_cents": 1500, "gifted": "FALSE", "subscription_period": "monthly",
         "subscription_state": "cancelled", "subscribed_at": "2024-01-10", "expires_at": "2025-06-10"},
        {"first_name": "Di", "last_name": "Fu", "email": "di@example.com", "plan_name": "Supporter",
         "plan_monthly_amount_cents": 500, "gifted": "FALSE", "subscription_period": "monthly",
         "subscription_state": "in_trial", "subscribed_at": "2026-11-01", "expires_at": "2027-03-01"},
    ])


def shopify_orders(path: Path) -> Path:
    return write(path, SHOPIFY, [
        {"Name": "#1", "Email": "ana@example.com", "Financial Status": "paid", "Currency": "EUR", "Total": "60.00",
         "Created at": "2026-05-01 10:00:00 +0200", "Lineitem quantity": 1, "Lineitem name": "Mug",
         "Lineitem price": "60.00"},
    ])


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(STEADY_RULES, encoding="utf-8")
    return path


def test_the_docs_show_the_same_profile():
    assert STEADY_RULES in DOCS.read_text(encoding="utf-8")


def test_a_new_profile_is_recognised_by_its_headers_and_its_rows_read_right(tmp_path, mine):
    result, report = run(tmp_path, steady_members(tmp_path / "members.csv"), shopify_orders(tmp_path / "orders.csv"),
                         load_rules(mine))
    profile = report["inputs"]["memberships"]["profile"]
    assert profile["name"] == "steady_members" and profile["plain_name"] == "Steady members export"
    assert "subscription_state" in profile["deciding_headers"]
    ana = member(result, email="ana@example.com")
    assert (ana["status_class"], ana["membership_status"], ana["plan"]) == ("renewing", "Active", "Supporter")
    assert ana["total_order_value"] == pytest.approx(60.0)
    assert member(result, email="bo@example.com")["membership_status"] == "Expiring Soon"   # 5 days left
    assert member(result, email="cy@example.com")["membership_status"] == "Inactive"
    assert member(result, email="di@example.com")["membership_status"] == "Active"
    rows = {row["email"]: row for row in csv_rows(result)}
    assert (rows["ana@example.com"]["firstname"], rows["ana@example.com"]["lastname"]) == ("Ana", "Ruiz")
    assert rows["ana@example.com"]["company"] == ""        # names: person, so a name is never the company
    m = report["memberships"]
    assert (m["rows_in"], m["kept"], m["rejected"]) == (4, 4, 0)


def test_a_user_profile_that_fits_beats_the_standard_layout():
    rules = parse_rules(STEADY_RULES)
    # a sheet with the standard layout's columns and Steady's: both fit, the more specific one wins
    cells = ["Cust ID", "Customer Name", "Created Date", "Expiration Date", *STEADY]
    header = find_header([(None, [cells])], candidate_profiles(rules, "memberships"), 5).header
    assert header is not None and header.profile is not None
    assert header.profile.name == "steady_members"


def test_the_catalog_lists_packaged_profiles_first_then_the_users_own():
    rules = parse_rules(STEADY_RULES + "  zeta_members:\n" + STEADY_RULES.split("steady_members:\n", 1)[1]
                        .replace("subscribed_at]", "subscribed_at, gifted]"))
    names = list(rules.catalog)
    assert names[0] == "standard"
    assert names[-2:] == ["steady_members", "zeta_members"]
    assert set(names[1:-2]) == set(packaged_profiles()) - {"standard"}


def test_cli_lists_the_new_profile_as_from_its_rules_file_and_rules_check_accepts_it(mine, capsys):
    from memberseg.cli import main

    mine.write_text(STEADY_RULES + "  shopify_orders:\n    orders: {fields: {email: {aliases: [Email, E-mail]}}}\n",
                    encoding="utf-8")
    assert main(["profiles", "--rules", str(mine)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["profile"].split()[:4] == ["profile", "reads", "from", "format"]
    assert "  rules file mine.yaml  " in lines["steady_members"]
    assert "  packaged, changed by rules file mine.yaml  " in lines["shopify_orders"]
    assert "  packaged  " in lines["stripe_subscriptions"]
    assert main(["rules", "check", str(mine)]) == 0
    assert f"{mine} is valid" in capsys.readouterr().out
    assert main(["rules", "show", "--rules", str(mine), "--profile", "steady_members"]) == 0
    assert "subscription_state" in capsys.readouterr().out


def test_an_incomplete_new_profile_is_refused_naming_the_file_and_the_missing_keys(tmp_path, capsys):
    from memberseg.cli import main

    bad = tmp_path / "half.yaml"
    bad.write_text("profiles:\n  acme_members:\n    title: Acme\n    memberships:\n      fields:\n"
                   "        email: {aliases: [Mail]}\n", encoding="utf-8")
    assert main(["rules", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "The rules file half.yaml is invalid. profiles.acme_members: a new profile needs " in err
    for key in ("platform", "export", "source", "memberships.signature", "memberships.names"):
        assert key in err
    assert "title," not in err and "memberships.fields" not in err


def test_a_new_profile_with_a_wrong_field_names_its_key_path():
    text = STEADY_RULES.replace("plan: {aliases: [plan_name]}", "tier: {aliases: [plan_name]}")
    with pytest.raises(InputError, match=r"profiles\.steady_members\.memberships\.fields: unknown field\(s\) "
                                         r"\['tier'\]"):
        parse_rules(text, source="mine.yaml")
    text = STEADY_RULES.replace("cancelled: ended", "cancelled: gone")
    with pytest.raises(InputError, match=r"profiles\.steady_members\.memberships\.statuses\.cancelled: 'gone'"):
        parse_rules(text, source="mine.yaml")


def test_a_mapped_status_needs_its_statuses():
    text = STEADY_RULES.split("      statuses:")[0]
    with pytest.raises(InputError, match=r"a new profile needs memberships\.statuses"):
        parse_rules(text)


def test_a_typo_of_a_packaged_name_is_a_new_incomplete_profile_with_a_suggestion():
    with pytest.raises(InputError) as refused:
        parse_rules("profiles: {shopfy_orders: {orders: {fields: {email: {aliases: [Customer Email]}}}}}",
                    source="mine.yaml")
    message = refused.value.message
    assert "profiles.shopfy_orders: a new profile needs title, platform, export, source, orders.signature" in message
    assert "did you mean 'shopify_orders'?" in message


def test_a_packaged_name_stays_a_merge_even_with_a_whole_profile():
    """A user can't replace a packaged profile wholesale by reusing its name: what the file doesn't say
    keeps the packaged value, and the listing says the packaged profile was changed."""
    text = STEADY_RULES.replace("steady_members:", "stripe_subscriptions:")
    rules = parse_rules(text, source="mine.yaml")
    stripe = rules.catalog["stripe_subscriptions"]
    assert stripe.title == 'Steady members list ("Export as CSV")'      # plain values replace
    assert stripe.memberships is not None
    assert "customer_id" in stripe.memberships.fields                   # mappings merge: Stripe's field stays
    assert stripe.memberships.statuses["past_due"] == "at_risk"
    assert [segment.property for segment in stripe.segments] == ["auto_renewing", "inactive_membership"]
    assert rules.profile_origin("stripe_subscriptions") == "packaged, changed by rules file mine.yaml"
    assert "steady_members" not in rules.catalog


def test_the_name_key_may_be_given_but_must_match():
    assert parse_rules(STEADY_RULES.replace("    title:", "    name: steady_members\n    title:", 1)).catalog[
        "steady_members"].name == "steady_members"
    with pytest.raises(InputError, match=r"profiles\.steady_members\.name: 'steady' differs"):
        parse_rules(STEADY_RULES.replace("    title:", "    name: steady\n    title:", 1))


def test_a_new_profile_with_another_profiles_signature_is_refused():
    copy = STEADY_RULES + "  steady_copy:\n" + STEADY_RULES.split("steady_members:\n", 1)[1]
    with pytest.raises(InputError, match=r"profiles\.steady_copy\.memberships\.signature: the same headers as the "
                                         r"profile 'steady_members'"):
        parse_rules(copy)
    stripe = ("profiles:\n  my_stripe:\n    title: t\n    platform: p\n    export: e\n    source: s\n"
              "    memberships:\n      signature: [customer id, PLAN, Interval, Status, Current Period End (UTC)]\n"
              "      names: person\n      fields:\n        email: {aliases: [Customer Email]}\n"
              "        created_date: {required: true, aliases: [Created (UTC)]}\n"
              "        expiration_date: {required: true, aliases: [Current Period End (UTC)]}\n")
    with pytest.raises(InputError, match="the same headers as the profile 'stripe_subscriptions'"):
        parse_rules(stripe)


def test_inputs_may_force_a_user_profile():
    rules = parse_rules(STEADY_RULES + "inputs: {memberships: {profile: steady_members}}\n")
    assert [profile.name for profile, _ in candidate_profiles(rules, "memberships")] == ["steady_members"]
    with pytest.raises(InputError, match="inputs: unknown profile 'acme'"):
        parse_rules("inputs: {memberships: {profile: acme}}")


def test_a_profile_segments_count_toward_the_most_segments_a_run_can_have():
    plain = parse_rules("")
    with_segments = parse_rules(STEADY_RULES + "    segments:\n" + "".join(
        f"      - {{property: s{i}, label: S{i}, all: [{{field: status_class, op: eq, value: renewing}}]}}\n"
        for i in range(7)))
    assert with_segments.most_segments == len(plain.segments) + 7


def test_the_effective_rules_round_trip_keeps_the_user_profile(tmp_path):
    """The S3 flow writes the checked rules as JSON and the run loads that file again."""
    import json

    effective = tmp_path / "effective_rules.yaml"
    effective.write_text(json.dumps(parse_rules(STEADY_RULES).model_dump(mode="json")), encoding="utf-8")
    again = load_rules(effective)
    assert again.catalog["steady_members"] == parse_rules(STEADY_RULES).catalog["steady_members"]


# --- Profile files kept outside the package (an organisation's profiles/*.yaml) ------------------

def _profile_file(text: str = "", name: str = "steady_members") -> ProfileFile:
    body = text or "\n".join(line[4:] for line in STEADY_RULES.splitlines()[2:]) + "\n"
    return ProfileFile(path=f"profiles/{name}.yaml", text=body, place="input bucket")


def test_a_profile_file_defines_a_profile_that_a_rules_file_can_change(tmp_path):
    rules = parse_rules("profiles: {steady_members: {memberships: {statuses: {guest: ended}}}}", source="rules.yaml",
                        profile_files=[_profile_file()])
    assert rules.catalog["steady_members"].memberships.statuses["guest"] == "ended"
    assert rules.catalog["steady_members"].memberships.statuses["active"] == "renewing"
    assert rules.profile_origin("steady_members") == \
        "input bucket profiles/steady_members.yaml, changed by rules file rules.yaml"
    alone = load_rules(profile_files=[_profile_file()])
    assert alone.profile_origin("steady_members") == "input bucket profiles/steady_members.yaml"
    result, report = run(tmp_path, steady_members(tmp_path / "members.csv"), shopify_orders(tmp_path / "orders.csv"),
                         alone)
    assert report["inputs"]["memberships"]["profile"]["name"] == "steady_members"


def test_a_profile_file_changes_a_packaged_profile():
    shopify = ProfileFile("profiles/shopify_orders.yaml", "orders: {fields: {email: {aliases: [Email, E-mail]}}}\n",
                          "input bucket")
    rules = load_rules(profile_files=[shopify])
    assert rules.catalog["shopify_orders"].orders.fields["email"].aliases == ["Email", "E-mail"]
    assert rules.profile_origin("shopify_orders") == "packaged, changed by input bucket profiles/shopify_orders.yaml"


def test_a_broken_profile_file_is_refused_naming_that_file():
    with pytest.raises(InputError) as refused:
        parse_rules("status: {expiring_soon_days: 45}", source="rules.yaml",
                    profile_files=[_profile_file("title: Acme\n", name="acme_members")])
    assert refused.value.message.startswith("The profile file input bucket profiles/acme_members.yaml is invalid. "
                                            "profiles.acme_members: a new profile needs platform")
    with pytest.raises(InputError, match="is not named after a profile"):
        parse_rules("", profile_files=[_profile_file(name="Acme-Members")])
    with pytest.raises(InputError, match="The profile file input bucket profiles/x.yaml must hold a mapping"):
        parse_rules("", profile_files=[_profile_file("- a list\n", name="x")])


def test_a_profile_file_cannot_carry_rules_such_as_limits():
    """A profile file holds a profile: no limits, so it can't loosen a job's only-tighten limits."""
    with pytest.raises(InputError, match=r"profiles\.steady_members\.limits: Extra inputs are not permitted"):
        parse_rules("", profile_files=[_profile_file(_profile_file().text + "limits: {max_rows: 99999999}\n")])

