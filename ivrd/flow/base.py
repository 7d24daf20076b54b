"""The base of every flow model: frozen, unknown fields refused with a "did you mean".

pydantic reports an unknown field as "Extra inputs are not permitted" at the field's location and
forgets which model refused it. Each model here catches its own such errors (a wrap validator, so
it sees only its own fields) and rewrites them as `unknown field 'promt'; did you mean 'prompt'?`,
or with the list of fields it knows when nothing is close. Other errors pass through unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core import core_schema as cs

from ivrd.flow.errors import did_you_mean

__all__ = ["FlowModel", "field_error", "field_names"]


def field_names(model: type[BaseModel]) -> list[str]:
    """The names an author writes for `model`'s fields (aliases where set)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def field_error(
    model: str, field: str, kind: str, message: str, ctx: dict[str, Any], value: Any
) -> ValidationError:
    """An error for one field, raised from a model validator that checks several fields.

    pydantic places errors raised in a model validator at the model; raising a ValidationError
    with the field's location instead points the author at the field itself.
    """
    error = PydanticCustomError(kind, message, ctx)
    return ValidationError.from_exception_data(
        model, [{"type": error, "loc": (field,), "input": value}]
    )


class FlowModel(BaseModel):
    """Frozen, strict about unknown fields; field docstrings become schema descriptions."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
    )

    shorthand_schema: ClassVar[dict[str, Any] | None] = None
    """The JSON Schema of a short form the model also accepts (`next: STEP` for `{go: STEP}`)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: cs.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        if cls.shorthand_schema is None:
            return schema
        return {"anyOf": [cls.shorthand_schema, dict(schema)]}

    @model_validator(mode="wrap")
    @classmethod
    def _explain_unknown_fields(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            if not any(e["type"] == "extra_forbidden" and len(e["loc"]) == 1 for e in errors):
                raise
            known = field_names(cls)
            details: list[InitErrorDetails] = []
            for error in errors:
                if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
                    name = str(error["loc"][0])
                    hint = did_you_mean(name, known) or f"; known fields: {', '.join(known)}"
                    kind = PydanticCustomError(
                        "unknown_field",
                        "unknown field '{name}'{hint}",
                        {"name": name, "hint": hint},
                    )
                else:
                    kind = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
                details.append({"type": kind, "loc": error["loc"], "input": error["input"]})
            raise ValidationError.from_exception_data(exc.title, details) from None
