"""The rules file and the platform profiles: loading, validation and the typed view the pipeline reads.

Every threshold, alias, tier and segment lives in a YAML (or TOML) file. The default,
`memberseg/default_rules.yaml`, is the one place each default is written; `--rules PATH` holds only
what it changes and is deep-merged over it. Profiles (one YAML file per export format, in
`memberseg/profiles/`) describe what a platform's file means; a rules file can change them under
`profiles.<name>`, or define a new profile under a name that is not packaged. Profile files kept
elsewhere (an organisation's `profiles/*.yaml`) load as `ProfileFile`s, between the defaults and the
rules file.

- `columns`: the output columns segments may not reuse, and the Members sheet's added columns;
- `operators`: the fields a segment condition tests, and one table of operators;
- `model`: the sections of the rules file as strict models;
- `profiles`: the profile model and the packaged profile files;
- `ruleset`: `Rules`, the whole file;
- `load`: defaults, profile files, merging, parsing and loading;
- `bounded`: loading a file nobody vetted within a size and time bound;
- `currencies`: the ISO 4217 minor-unit exponents (`currency_exponents.yaml`).
"""

from .columns import (
    FORMULA_TRIGGERS,
    HUBSPOT_BASE_COLUMNS,
    HUBSPOT_CHANGE_COLUMNS,
    HUBSPOT_PERSON_COLUMNS,
    HUBSPOT_RETIRED_COLUMNS,
    MEMBER_COLUMNS,
    MemberColumn,
    since_column,
)
from .load import DEFAULT_RULES_NAME, ProfileFile, default_rules, default_rules_data, load_rules, parse_rules
from .model import (
    HUBSPOT_NAME,
    IDENTITY_FIELDS,
    MEMBERSHIP_CLASSES,
    MEMBERSHIP_FIELDS,
    ORDER_CLASSES,
    ORDER_FIELDS,
    ROLES,
    ROW_TYPE_CLASSES,
    Condition,
    ConditionValue,
    Consolidation,
    DateOrder,
    DecimalSeparator,
    Engine,
    FieldSpec,
    FileSettings,
    HubSpot,
    Inputs,
    Limits,
    OptionLabel,
    Orders,
    Scalar,
    Segment,
    Status,
    StatusLabels,
    Tier,
    deep_merge,
    normalize_header,
)
from .operators import OPERATORS, SEGMENT_FIELDS, Operator
from .profiles import (
    PROFILES_FOLDER,
    STANDARD_PROFILE,
    Profile,
    RenewalTest,
    RoleSpec,
    Term,
    TermLength,
    TermSpan,
    packaged_profiles,
)
from .ruleset import Rules

__all__ = [
    "DEFAULT_RULES_NAME", "FORMULA_TRIGGERS", "HUBSPOT_BASE_COLUMNS", "HUBSPOT_CHANGE_COLUMNS", "HUBSPOT_NAME",
    "HUBSPOT_PERSON_COLUMNS", "HUBSPOT_RETIRED_COLUMNS",
    "IDENTITY_FIELDS", "MEMBERSHIP_CLASSES", "MEMBERSHIP_FIELDS", "MEMBER_COLUMNS", "OPERATORS", "ORDER_CLASSES",
    "ORDER_FIELDS", "PROFILES_FOLDER", "ROLES", "ROW_TYPE_CLASSES", "SEGMENT_FIELDS", "STANDARD_PROFILE",
    "Condition", "ConditionValue", "Consolidation", "DateOrder", "DecimalSeparator", "Engine", "FieldSpec",
    "FileSettings",
    "HubSpot", "Inputs", "Limits", "MemberColumn", "Operator", "OptionLabel", "Orders", "Profile", "ProfileFile",
    "RenewalTest", "RoleSpec", "Rules", "Scalar", "Segment", "Status", "StatusLabels", "Term", "TermLength", "TermSpan",
    "Tier",
    "deep_merge", "default_rules", "default_rules_data", "load_rules", "normalize_header", "packaged_profiles",
    "parse_rules", "since_column",
]
