"""What a model call costs: a price table per model (USD per 1M tokens), so a task's estimated
cost is right for the models it used. The table shipped in model_prices.json holds list prices
of known models (its `source` says where they come from); BATON_PRICE_TABLE_FILE replaces it.
A model the table does not name is priced by BATON_PRICE_PROMPT_PER_1K and
BATON_PRICE_COMPLETION_PER_1K (0 unless set)."""

from pathlib import Path

from pydantic import BaseModel, Field

from .settings import Settings

SHIPPED = Path(__file__).with_name("model_prices.json")


class Price(BaseModel):
    input: float = Field(ge=0)  # USD per 1M prompt tokens
    output: float = Field(ge=0)  # USD per 1M completion tokens


class PriceFile(BaseModel):
    source: str = ""
    usd_per_1m_tokens: dict[str, Price]


class PriceTable:
    def __init__(self, prices: dict[str, Price], fallback: Price):
        # Longest name first: "gpt-4o-mini-2024-07-18" is priced as gpt-4o-mini, not gpt-4o.
        self.prices = dict(sorted(prices.items(), key=lambda item: -len(item[0])))
        self.fallback = fallback

    @classmethod
    def load(cls, settings: Settings) -> "PriceTable":
        path = Path(settings.price_table_file) if settings.price_table_file else SHIPPED
        table = PriceFile.model_validate_json(path.read_text())
        fallback = Price(input=settings.price_prompt_per_1k * 1000, output=settings.price_completion_per_1k * 1000)
        return cls({name.lower(): price for name, price in table.usd_per_1m_tokens.items()}, fallback)

    def price(self, model: str) -> Price:
        """The price of `model` as a provider names it (a dated version is priced as its model)."""
        name = model.lower()
        return next((price for known, price in self.prices.items() if name.startswith(known)), self.fallback)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.price(model)
        return round((prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000, 6)
