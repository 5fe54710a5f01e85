"""memberseg: turn membership and order spreadsheets into CRM-ready customer segments."""

__version__ = "0.1.0"
