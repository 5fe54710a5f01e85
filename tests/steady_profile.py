"""Steady's members export as a user's own profile: the worked example of docs/rules.md ("Your own
profile"), used by the unit tests of user profiles and by the S3 flow's organisation profiles.

Written from Steady's help centre, "Export list and information about your members in CSV format"
(https://help.steadyhq.com/en/articles/6265612).
"""

from __future__ import annotations

import yaml

STEADY_RULES = """\
profiles:
  steady_members:
    title: Steady members list ("Export as CSV")
    plain_name: Steady members export
    platform: Steady
    export: Steady > Members > Export as CSV
    source: >-
      Steady help centre, "Export list and information about your members in CSV format"
      (help.steadyhq.com/en/articles/6265612): the columns and the subscription_state values
    unconfirmed:
      - expires_at is named in the page's text (not_renewing runs until trial_ends_at or expires_at), not in its column list
      - whether an active membership's expires_at is filled (a blank one is a rejection that names it)
      - the date format of subscribed_at and expires_at
    memberships:
      signature: [plan_name, plan_monthly_amount_cents, subscription_period, subscription_state, subscribed_at]
      names: person                   # first_name and last_name are the member's
      fields:
        email: {aliases: [email]}
        first_name: {aliases: [first_name]}
        last_name: {aliases: [last_name]}
        created_date: {required: true, aliases: [subscribed_at]}
        expiration_date: {required: true, aliases: [expires_at]}
        status: {required: true, aliases: [subscription_state]}
        plan: {aliases: [plan_name]}
      statuses:
        active: renewing              # "active and not cancelled": it renews by itself
        in_trial: current
        guest: current                # invited by a paying member
        not_renewing: current         # cancelled, access until the end of the period; gifts too
        cancelled: ended
      ignore: [subscription_period]   # monthly or annual: the status already says which renew
"""

STEADY = ["first_name", "last_name", "email", "plan_name", "plan_monthly_amount_cents", "gifted",
          "subscription_period", "subscription_state", "subscribed_at", "expires_at"]



def steady_profile_file() -> str:
    """profiles.steady_members as a file of its own (what `profiles/steady_members.yaml` in the input
    bucket holds): the profile's body, without the `profiles:` wrapper."""
    return yaml.safe_dump(yaml.safe_load(STEADY_RULES)["profiles"]["steady_members"], sort_keys=False,
                          allow_unicode=True)
