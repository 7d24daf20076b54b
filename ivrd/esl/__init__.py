"""The event-socket library: FreeSWITCH's mod_event_socket from Python, over anyio."""
