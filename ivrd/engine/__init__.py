"""The flow interpreter: runs a loaded Flow over an outbound session, step by step."""

from ivrd.engine.interpreter import run_call
from ivrd.engine.session import CallSession
from ivrd.engine.trace import Redactor, StepRecord, Trace

__all__ = ["CallSession", "Redactor", "StepRecord", "Trace", "run_call"]
