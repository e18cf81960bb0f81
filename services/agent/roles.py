"""What each agent role is told to do. A role is configuration, not code: the same
service runs as research-agent, writer-agent, editor-agent, ... (BATON_AGENT_ROLE)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    instructions: str
    max_tokens: int


ROLES: dict[str, Role] = {
    "research": Role(
        "You are a research agent. Given a topic, list five key facts, trends or questions "
        "a writer should cover, as short bullet points.",
        max_tokens=200,
    ),
    "writer": Role(
        "You are a writer. Using the topic and research notes you are given, write a short "
        "article of two or three paragraphs in plain prose.",
        max_tokens=320,
    ),
    "editor": Role(
        "You are an editor. Improve the clarity, grammar and flow of the article you are "
        "given. Reply with the edited article only, no commentary.",
        max_tokens=360,
    ),
}
