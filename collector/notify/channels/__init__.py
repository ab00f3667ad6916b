"""Every notification channel type, by the name the API uses."""

from __future__ import annotations

from picket.collector.notify.channels import (
    discord,
    email,
    ntfy,
    opsgenie,
    pagerduty,
    slack,
    teams,
    telegram,
    webhook,
)
from picket.collector.notify.channels.base import ChannelKind, DeliveryError, SendContext

CHANNELS: dict[str, ChannelKind] = {
    module.__name__.rsplit(".", 1)[1]: ChannelKind(
        name=module.__name__.rsplit(".", 1)[1],
        config=module.Config,
        build_payload=module.build_payload,
        send=module.send,
    )
    for module in (email, slack, discord, teams, telegram, pagerduty, opsgenie, ntfy, webhook)
}

__all__ = ["CHANNELS", "ChannelKind", "DeliveryError", "SendContext"]
