"""A held-out probe of implicit hate vs neutral statements about 16 groups: short sentences without slurs.

Why: the issue's acceptance set (held by its filers) is of this kind; this is mixloom's own estimate of it.
Its sentence frames and words were written separately from the training generators (`templates.py`,
`speech.py`) and are never trained on (a test checks that no probe sentence, and no frame's fixed wording,
appears in the training data). Every group gets the same sentences (only the group's words differ), so
per-group false-positive rates compare groups on matched text.

Implicit hate: stereotypes, conspiracy, dehumanising comparisons without insult words, exclusion, loaded
questions, backhanded compliments. Neutral: history, culture, statistics, everyday life, news, including
mentions of discrimination against the group.
"""

from __future__ import annotations

import polars as pl

# (group name as in curation.identity, plural, a person)
GROUPS16 = [
    ("women", "women", "a woman"),
    ("black people", "black people", "a black man"),
    ("Asian people", "asians", "an asian woman"),
    ("Latinos", "mexicans", "a mexican"),
    ("Arabs", "arabs", "an arab"),
    ("Chinese people", "chinese people", "a chinese student"),
    ("Indigenous people", "native americans", "a native american"),
    ("Jews", "jews", "a jewish man"),
    ("Muslims", "muslims", "a muslim"),
    ("immigrants", "immigrants", "an immigrant"),
    ("gay people", "gay people", "a gay man"),
    ("trans people", "trans people", "a trans woman"),
    ("disabled people", "disabled people", "a disabled person"),
    ("elderly people", "old people", "an elderly man"),
    ("Roma", "gypsies", "a gypsy"),
    ("Hindus", "hindus", "a hindu"),
]

HATE = [
    "{P} secretly run the media and the banks",
    "it's no accident that crime went up when {p} arrived",
    "{P} multiply fast and soon there will be more of them than us",
    "{p} are like a swarm, once they arrive you can't get rid of them",
    "every time {a} opens a shop the neighbourhood gets worse",
    "{p} just aren't built for jobs that need brains",
    "i keep my wallet close whenever {p} are around",
    "{p} would sell their own mother for a profit",
    "we should not let {p} anywhere near our children",
    "if you give {p} an inch they take a mile",
    "{p} are a problem that this country has to solve",
    "the fewer {p} in this town the better",
    "{P} only got that job to fill a quota",
    "{p} have contributed nothing of value to civilization",
    "how can anyone be proud of being {a}?",
    "{a} in charge? that's how companies go bankrupt",
    "{p} are good at one thing, living off other people",
    "it's in the blood of {p} to lie",
    "{P} can smile at you but they're plotting behind your back",
    "{p} shouldn't be allowed to raise kids",
    "my town was nice until the {p} came",
    "{P} are an invasive species in this country",
    "be careful, {p} are known to carry diseases",
    "{p} have no morals whatsoever",
    "{p} just want to live on our taxes",
    "you can't reason with {p}, they only understand force",
    "{p} will never fit in here no matter how hard they try",
    "ship the {p} back and our problems are solved",
    "{a} as a neighbour is a nightmare",
    "{p} ruin every place they touch",
]
NEUTRAL = [
    "{P} have lived in this region for many centuries",
    "the museum has a new wing on the art of {p}",
    "{a} won the national spelling bee this year",
    "my grandmother's best friend was {a}",
    "{P} make up about four percent of the population",
    "a film about {p} won an award at the festival",
    "the university offers scholarships for {p}",
    "{P} were among the first to join the union",
    "{a} was elected to the city council last week",
    "discrimination against {p} is still common in housing",
    "the exhibition tells the stories of {p} in the nineteenth century",
    "{p} celebrate many different traditions",
    "the podcast interviews {p} about their careers",
    "{a} opened a bakery on my street",
    "researchers studied the health of {p} in rural areas",
    "{P} often report being treated unfairly by landlords",
    "my neighbour is {a} and we often have dinner together",
    "the report counts how many {p} work in tech",
    "{P} have a rich history of music and poetry",
    "a local group organised a picnic for {p} and their families",
    "the new law bans discrimination against {p}",
    "{a} wrote the bestselling novel of the year",
    "there is a support group for {p} at the library",
    "the survey asked {p} what they think of public transport",
    "{P} marched peacefully through the city centre",
    "{a} coaches my daughter's football team",
    "the debate included {a} and two economists",
    "{p} were forced from their homes during the war",
    "the charity helps {p} find jobs",
    "{a} was the first to climb that mountain",
]


def probe() -> pl.DataFrame:
    """text, label (1 implicit hate, 0 neutral), group, functionality: 30 + 30 sentences for each of 16 groups."""
    rows = []
    for name, plural, one in GROUPS16:
        for label, frames in ((1, HATE), (0, NEUTRAL)):
            for f in frames:
                text = f.format(p=plural, P=plural[:1].upper() + plural[1:], a=one)
                rows.append((text, label, name, "implicit_hate" if label else "neutral"))
    return pl.DataFrame(rows, schema=["text", "label", "group", "functionality"], orient="row")
