"""Which events a socket receives: mod_event_socket's event list, CUSTOM subclasses, filters
and `myevents`, with the reply texts of the commands that change them.

Ported from `event_handler()` and `parse_command()` in mod_event_socket.c: `event` and
`nixevent` ignore names they do not know; `ALL` includes every CUSTOM subclass; filters pass an
event when any positive filter matches (`-value` vetoes, `/regex/` matches a regex) and the
comparison ignores case; with `myevents` only events whose `Unique-ID` is the session's pass,
so a BACKGROUND_JOB (which has no Unique-ID) never reaches a socket that used `myevents`.
"""

from __future__ import annotations

import re

from ivrd.testing.events import EventFormat, FakeEvent

EVENT_NAMES = frozenset(
    [
        "CUSTOM",
        "CLONE",
        "CHANNEL_CREATE",
        "CHANNEL_DESTROY",
        "CHANNEL_STATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_ANSWER",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HOLD",
        "CHANNEL_UNHOLD",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_OUTGOING",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "CHANNEL_APPLICATION",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "API",
        "LOG",
        "INBOUND_CHAN",
        "OUTBOUND_CHAN",
        "STARTUP",
        "SHUTDOWN",
        "PUBLISH",
        "UNPUBLISH",
        "TALK",
        "NOTALK",
        "SESSION_CRASH",
        "MODULE_LOAD",
        "MODULE_UNLOAD",
        "DTMF",
        "MESSAGE",
        "PRESENCE_IN",
        "NOTIFY_IN",
        "PRESENCE_OUT",
        "PRESENCE_PROBE",
        "MESSAGE_WAITING",
        "MESSAGE_QUERY",
        "ROSTER",
        "CODEC",
        "BACKGROUND_JOB",
        "DETECTED_SPEECH",
        "DETECTED_TONE",
        "PRIVATE_COMMAND",
        "HEARTBEAT",
        "TRAP",
        "ADD_SCHEDULE",
        "DEL_SCHEDULE",
        "EXE_SCHEDULE",
        "RE_SCHEDULE",
        "RELOADXML",
        "NOTIFY",
        "PHONE_FEATURE",
        "PHONE_FEATURE_SUBSCRIBE",
        "SEND_MESSAGE",
        "RECV_MESSAGE",
        "REQUEST_PARAMS",
        "CHANNEL_DATA",
        "GENERAL",
        "COMMAND",
        "SESSION_HEARTBEAT",
        "CLIENT_DISCONNECTED",
        "SERVER_DISCONNECTED",
        "SEND_INFO",
        "RECV_INFO",
        "RECV_RTCP_MESSAGE",
        "SEND_RTCP_MESSAGE",
        "CALL_SECURE",
        "NAT",
        "RECORD_START",
        "RECORD_STOP",
        "PLAYBACK_START",
        "PLAYBACK_STOP",
        "CALL_UPDATE",
        "FAILURE",
        "SOCKET_DATA",
        "MEDIA_BUG_START",
        "MEDIA_BUG_STOP",
        "CONFERENCE_DATA_QUERY",
        "CONFERENCE_DATA",
        "CALL_SETUP_REQ",
        "CALL_SETUP_RESULT",
        "CALL_DETAIL",
        "DEVICE_STATE",
        "TEXT",
        "SHUTDOWN_REQUESTED",
    ]
)

# What `myevents` subscribes to (mod_event_socket.c).
MYEVENTS = frozenset(
    [
        "CHANNEL_ANSWER",
        "CHANNEL_APPLICATION",
        "CHANNEL_BRIDGE",
        "CHANNEL_CREATE",
        "CHANNEL_DATA",
        "CHANNEL_DESTROY",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "CHANNEL_OUTGOING",
        "CHANNEL_PARK",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_STATE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_UNPARK",
        "DETECTED_SPEECH",
        "DTMF",
        "NOTALK",
        "TALK",
    ]
)


def event_name(word: str) -> str | None:
    """The event type a word names (`switch_name_event`), or None."""
    name = word.upper()
    if name.startswith("SWITCH_EVENT_"):
        name = name[len("SWITCH_EVENT_") :]
    if name == "ALL" or name in EVENT_NAMES:
        return name
    return None


class Subscription:
    """One socket's event subscription: `wants(event)` says whether it gets that event."""

    def __init__(self) -> None:
        self.enabled = False
        self.all = False
        self.types: set[str] = set()
        self.subclasses: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.myevents = False
        self.session_uuid: str | None = None
        self.format: EventFormat = "plain"

    def wants(self, event: FakeEvent) -> bool:
        if not self.enabled:
            return False
        if self.all:
            send = True
        elif event.name in self.types:
            send = event.name != "CUSTOM" or not event.subclass or event.subclass in self.subclasses
        else:
            return False
        if send and self.filters:
            send = self._filtered(event)
        if send and self.myevents:
            uuid = event.uuid or event.get("Unique-ID")
            if uuid is None or (self.session_uuid is not None and uuid != self.session_uuid):
                return False
        return send

    def unique_id_filter(self) -> frozenset[str] | None:
        """The Unique-IDs (lower-case) that the filters alone let through, when every filter
        is a plain positive `Unique-ID` one (`filter Unique-ID <uuid>`); else None.

        Such a socket can only want events of those channels, so the fake indexes it by them.
        """
        if not self.filters:
            return None
        keys = set()
        for name, value in self.filters:
            if name.lower() != "unique-id" or not value or value[0] in "+- /":
                return None
            keys.add(value.lower())
        return frozenset(keys)

    def _filtered(self, event: FakeEvent) -> bool:
        send = False
        for name, raw in self.filters:
            value = event.get(name)
            if value is None:
                continue
            positive = True
            start = 0
            while start < len(raw) and raw[start] in "+- ":
                if raw[start] == "+":
                    positive = True
                elif raw[start] == "-":
                    positive = False
                start += 1
            wanted = raw[start:]
            if send and positive:
                continue
            if raw.startswith("/"):
                matched = _regex_match(value, wanted)
            else:
                matched = value.lower() == wanted.lower()
            if matched:
                if not positive:
                    return False
                send = True
        return send

    # -- commands ---------------------------------------------------------------------------

    def event_command(self, words: list[str]) -> str:
        """`event [plain|json|xml] NAME...`: the reply text."""
        count = 0
        custom = False
        for position, word in enumerate(words):
            if position == 0 and word.lower() in ("plain", "json", "xml"):
                self.format = word.lower()  # type: ignore[assignment]
                continue
            if custom:
                self.subclasses.add(word)
                continue
            name = event_name(word)
            if name is None:
                continue
            count += 1
            if name == "ALL":
                self.all = True
                self.types |= EVENT_NAMES
            else:
                self.types.add(name)
            if name == "CUSTOM":
                custom = True
        if not count:
            return "-ERR no keywords supplied"
        self.enabled = True
        return f"+OK event listener enabled {self.format}"

    def nixevent_command(self, words: list[str]) -> str:
        count = 0
        custom = False
        for word in words:
            if custom:
                self.subclasses.discard(word)
                continue
            name = event_name(word)
            if name is None:
                continue
            count += 1
            if name == "CUSTOM":
                custom = True
            elif name == "ALL":
                self.all = False
                self.types.clear()
            else:
                if self.all:
                    self.all = False
                    self.types |= EVENT_NAMES
                self.types.discard(name)
        if not count:
            return "-ERR no keywords supplied"
        self.enabled = True
        return "+OK events nixed"

    def noevents_command(self) -> str:
        if not self.enabled:
            return "-ERR not listening for events"
        self.enabled = False
        self.all = False
        self.types.clear()
        self.subclasses.clear()
        return "+OK no longer listening for events"

    def myevents_command(self, session_uuid: str | None, format_words: str) -> str:
        if self.myevents:
            return "-ERR aready enabled."
        self.types |= MYEVENTS
        self.myevents = True
        self.enabled = True
        self.session_uuid = session_uuid
        if "xml" in format_words or "XML" in format_words:
            self.format = "xml"
        if "json" in format_words or "JSON" in format_words:
            self.format = "json"
        return "+OK Events Enabled"

    def filter_command(self, rest: str) -> str:
        """`filter H V`, `filter add H V`, `filter delete H [V]`, `filter delete all`."""
        rest = rest.lstrip(" ")
        name, _, value = rest.partition(" ")
        if name.lower() == "delete" and value:
            name, _, value = value.partition(" ")
            if name.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [
                    (key, val)
                    for key, val in self.filters
                    if not (key.lower() == name.lower() and (not value or val == value))
                ]
            return f"+OK filter deleted. [{name}][{value}]"
        if not value and " " not in rest:
            return "-ERR invalid syntax"
        if name.lower() == "add":
            name, _, value = value.partition(" ")
        self.filters.append((name, value))
        return f"+OK filter added. [{name}]=[{value}]"


def _regex_match(value: str, pattern: str) -> bool:
    flags = 0
    if pattern.startswith("/"):
        body = pattern[1:]
        end = body.rfind("/")
        if end >= 0:
            if "i" in body[end + 1 :]:
                flags = re.IGNORECASE
            body = body[:end]
        pattern = body
    try:
        return re.search(pattern, value, flags) is not None
    except re.error:
        return False
