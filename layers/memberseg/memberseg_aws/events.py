"""The job flow's events on EventBridge (source memberseg.jobs): the outcome events of the processing
function and the sweeper, and the push function's HubSpot import events."""

from __future__ import annotations

import json
from typing import Any

import boto3

from memberseg.job_protocol import EVENT_SOURCE


class EventBridgePublisher:
    def __init__(self, bus_name: str = "default", client: Any = None):
        self.bus_name = bus_name
        self.events = client or boto3.client("events")

    def publish(self, detail_type: str, detail: dict) -> None:
        response = self.events.put_events(Entries=[{
            "Source": EVENT_SOURCE, "DetailType": detail_type, "EventBusName": self.bus_name,
            "Detail": json.dumps(detail, default=str, ensure_ascii=False),
        }])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge rejected the {detail_type!r} event: {response['Entries']}")
