"""What each agent role is told to do. A role is configuration, not code: the same
service runs as research-agent, writer-agent, web-researcher, voter-strict, ...
(BATON_AGENT_ROLE picks the role; dapr.yaml gives each its own app id)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    instructions: str
    max_tokens: int
    votes: bool = False  # voters answer POST /vote with a structured verdict


_SOURCE = ("You are a {kind} research agent. Report what {where} would say about the query: "
           "three short bullet points, most relevant first.")
_VOTER = ("You are a {stance} reviewer on a panel. Judge the content for the given task and "
          "answer with one of the allowed labels, a confidence between 0 and 1, and a one-sentence "
          "rationale. {bias}")

ROLES: dict[str, Role] = {
    # Sequential pipeline.
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
    # Parallel research: one source each.
    "web": Role(_SOURCE.format(kind="web", where="general web pages"), max_tokens=120),
    "academic": Role(_SOURCE.format(kind="academic", where="peer-reviewed papers"), max_tokens=120),
    "news": Role(_SOURCE.format(kind="news", where="recent news reports"), max_tokens=120),
    "social": Role(_SOURCE.format(kind="social media", where="social media discussions"), max_tokens=120),
    # Hierarchical: the research manager's workers.
    "scraper": Role(
        "You are a web scraper agent. From what is publicly known about the goal, extract the "
        "key facts as four short bullet points.",
        max_tokens=160,
    ),
    "paper-analyst": Role(
        "You are a paper analyser. Summarise what research papers say about the goal: main "
        "findings and open questions, as four short bullet points.",
        max_tokens=160,
    ),
    # Consensus: the same question to differently-instructed voters.
    "voter-strict": Role(_VOTER.format(stance="strict", bias="When in doubt, choose the more cautious label."),
                         max_tokens=120, votes=True),
    "voter-lenient": Role(_VOTER.format(stance="lenient", bias="Give the content the benefit of the doubt."),
                          max_tokens=120, votes=True),
    "voter-balanced": Role(_VOTER.format(stance="balanced", bias="Weigh both readings evenly."),
                           max_tokens=120, votes=True),
}
