"""Hand-written templated sentences about identity groups: hateful ones without slurs, and non-hateful ones.

Why: the Davidson tweets are slur- and profanity-heavy, and most of their identity mentions are offensive,
so a model trained on them alone learns "mentions a group → toxic" and misses hate written in plain words.
These templates teach the other half: plain-word contempt, dehumanisation, devaluation, exclusion and threats
are toxic; neutral, positive, supportive mentions and denials of hate about the same groups are not.

They were written for mixloom (not taken from HateCheck or any other test suite; a test checks that no
HateCheck case is in the training data). Sentences are slots filled from word lists; hateful and non-hateful
sentences share the same subjects and the same openings and endings, so only the loaded words carry the
label. Sentence i is the same template with the same words for every group of `curation.identity` (only the
group's words differ): every group gets the same hateful and non-hateful sentences.

`split="train"` and `split="heldout"` use disjoint words: every 4th entry of every list is held out, so the
held-out probe measures generalisation to wording the model never saw.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from curation.identity import GROUPS, Group

# --- hateful: words -----------------------------------------------------------------------------------
NEG_NOUNS = [
    "animals",
    "vermin",
    "parasites",
    "rats",
    "cockroaches",
    "pests",
    "savages",
    "scum",
    "filth",
    "trash",
    "garbage",
    "a plague",
    "a disease",
    "a cancer on society",
    "pigs",
    "beasts",
    "insects",
    "rodents",
    "a virus",
    "an infestation",
    "a waste of space",
    "a burden on everyone",
    "leeches",
    "criminals",
    "monsters",
    "degenerates",
    "a stain on humanity",
    "lowlifes",
    "freaks",
    "maggots",
    "a mistake of nature",
    "subhumans",
]
NEG_ADJS = [
    "disgusting",
    "worthless",
    "stupid",
    "filthy",
    "evil",
    "inferior",
    "pathetic",
    "revolting",
    "vile",
    "despicable",
    "useless",
    "dangerous",
    "subhuman",
    "brainless",
    "lazy",
    "dishonest",
    "repulsive",
    "primitive",
    "dirty",
    "sick in the head",
    "ugly",
    "dumb",
    "hateful",
    "greedy",
    "less than human",
    "idiots",
    "a lower form of life",
    "too dumb to think",
    "mentally deficient",
    "not fit to live among us",
    "vicious",
    "the worst people on earth",
]
HATE_VERBS = [
    "hate",
    "despise",
    "detest",
    "loathe",
    "abhor",
    "can't stand",
    "can't bear",
    "resent",
    "am disgusted by",
    "am sick of",
    "want nothing to do with",
    "feel only hatred for",
    "am repulsed by",
    "have nothing but contempt for",
    "feel pure disgust for",
    "really hate",
]
DISGUST = [
    "disgust me",
    "make me sick",
    "make me furious",
    "fill me with rage",
    "repulse me",
    "make my skin crawl",
    "make me want to puke",
    "sicken me",
    "make my blood boil",
    "make me so angry",
    "are the worst",
    "ruin everything",
]
VIOLENT = [
    "kill",
    "murder",
    "shoot",
    "stab",
    "hang",
    "burn",
    "beat",
    "torture",
    "slaughter",
    "execute",
    "strangle",
    "drown",
    "eradicate",
    "exterminate",
    "wipe out",
    "get rid of",
    "destroy",
    "crush",
    "eliminate",
    "lynch",
    "gas",
    "hunt down",
    "deport",
    "lock up",
    "punch",
    "attack",
    "hurt",
    "bomb",
]
VIOLENT_PP = [
    "killed",
    "murdered",
    "shot",
    "stabbed",
    "hanged",
    "burned",
    "beaten",
    "tortured",
    "slaughtered",
    "executed",
    "strangled",
    "drowned",
    "eradicated",
    "exterminated",
    "wiped out",
    "removed",
    "destroyed",
    "crushed",
    "eliminated",
    "lynched",
    "gassed",
    "hunted down",
    "deported",
    "locked up",
    "punished",
    "attacked",
    "hurt",
    "sterilized",
    "caged",
    "banished",
]
DEVALUE = [
    "don't matter",
    "are worthless",
    "mean nothing",
    "have no value",
    "aren't worth saving",
    "are not worth protecting",
    "are not important",
    "count for nothing",
    "are not worth anything",
    "are a waste",
    "should not matter to anyone",
    "are cheap",
]
BAD_THINGS = [
    "eat glass",
    "starve",
    "be dead",
    "lose an arm",
    "get the plague",
    "live in a sewer",
    "drink poison",
    "be homeless",
]
ANIMALS = [
    "a dog",
    "a rat",
    "a cockroach",
    "a pig",
    "a goat",
    "a monkey",
    "a worm",
    "a fly",
    "a donkey",
    "a snake",
    "a cow",
    "a slug",
]
UNDESERVED = [
    "rights",
    "respect",
    "to live",
    "to breathe",
    "kindness",
    "to be free",
    "any help",
    "to exist",
    "a vote",
    "jobs",
    "a place here",
    "mercy",
]
EXCLUDE = [
    "don't belong here",
    "should go back where they came from",
    "should not be allowed to vote",
    "should be banned from our schools",
    "should never be hired",
    "should stay out of our country",
    "have no place in society",
    "can't be trusted",
    "are not welcome here",
    "should be kept away",
    "should leave this country",
    "should not be allowed near children",
]

# --- non-hateful: words -------------------------------------------------------------------------------
POS_NOUNS = [
    "heroes",
    "role models",
    "a blessing",
    "a gift to this country",
    "a treasure",
    "great neighbours",
    "our friends",
    "people too",
    "human beings",
    "valued colleagues",
    "an inspiration",
    "the heart of this community",
    "wonderful parents",
    "hard workers",
    "great company",
    "legends",
    "brilliant scientists",
    "amazing artists",
    "good people",
    "part of our family",
    "champions",
    "a joy to be around",
    "great teachers",
    "my favourite people",
]
POS_ADJS = [
    "beautiful",
    "gorgeous",
    "amazing",
    "wonderful",
    "fantastic",
    "brilliant",
    "kind",
    "compassionate",
    "talented",
    "strong",
    "smart",
    "funny",
    "generous",
    "hardworking",
    "welcome",
    "valued",
    "great",
    "lovely",
    "awesome",
    "resilient",
    "creative",
    "caring",
    "honest",
    "so cool",
    "inspiring",
    "warm and friendly",
    "admirable",
    "just like everyone else",
    "incredible",
    "thoughtful",
    "absolutely wonderful",
    "a pleasure to know",
]
LOVE_VERBS = [
    "love",
    "adore",
    "admire",
    "respect",
    "appreciate",
    "cherish",
    "support",
    "stand with",
    "celebrate",
    "welcome",
    "trust",
    "believe in",
    "am proud of",
    "look up to",
    "care about",
    "really like",
]
HAPPY = [
    "make me happy",
    "make me proud",
    "make me smile",
    "make me laugh",
    "give me hope",
    "make me grateful",
    "inspire me",
    "make my day",
    "make our town better",
    "are the best",
    "enrich everything",
    "brighten my day",
]
KIND = [
    "help",
    "hug",
    "thank",
    "support",
    "hire",
    "meet",
    "befriend",
    "celebrate",
    "protect",
    "defend",
    "learn from",
    "welcome",
    "mentor",
    "cook for",
    "visit",
    "interview",
    "teach",
    "encourage",
    "vote for",
    "stand up for",
    "listen to",
    "work with",
    "invite",
    "praise",
    "marry",
    "include",
    "honour",
    "thank",
]
KIND_PP = [
    "celebrated",
    "admired",
    "honoured",
    "respected",
    "protected",
    "included",
    "supported",
    "welcomed",
    "listened to",
    "paid fairly",
    "hired",
    "heard",
    "thanked",
    "treated equally",
    "cherished",
    "valued",
    "represented",
    "believed",
    "encouraged",
    "embraced",
    "loved",
    "appreciated",
    "trusted",
    "promoted",
    "given a chance",
    "treated with dignity",
    "invited",
    "applauded",
    "remembered",
    "rewarded",
]
MATTER = [
    "matter",
    "are precious",
    "are worth protecting",
    "are valuable",
    "mean everything",
    "are important",
    "count",
    "are sacred",
    "deserve protection",
    "are worth celebrating",
    "should matter to everyone",
    "are priceless",
]
DESERVED = [
    "rights",
    "respect",
    "to live in peace",
    "dignity",
    "equal pay",
    "our support",
    "to be safe",
    "to be happy",
    "kindness",
    "a fair chance",
    "a voice",
    "justice",
]
FACTS = [
    "live in every part of the country",
    "celebrate many holidays",
    "have lived here for generations",
    "work in every profession",
    "are represented in parliament",
    "vote in every election",
    "run many small businesses",
    "were interviewed for the documentary",
    "spoke at the town hall",
    "can apply for the scholarship",
    "are underrepresented in leadership",
    "opened a community center",
    "are a diverse group",
    "often face discrimination",
    "are more likely to be victims of hate crimes",
    "have a long history here",
    "joined the march",
    "are part of our team",
    "were surveyed for the study",
    "moved here last year",
    "play in the local league",
    "are in my class",
    "volunteer at the shelter",
    "started a podcast",
]
ROLES = [
    "doctor",
    "neighbour",
    "teacher",
    "boss",
    "roommate",
    "dentist",
    "coach",
    "colleague",
    "lawyer",
    "landlord",
    "nurse",
    "classmate",
    "manager",
    "friend",
    "pilot",
    "best friend",
]

# Openings and endings shared by hateful and non-hateful sentences (so they carry no label).
OPENINGS = [
    "",
    "",
    "",
    "honestly, ",
    "let's be real, ",
    "i think ",
    "everyone knows ",
    "the truth is ",
    "in my opinion ",
    "i'm just saying ",
    "face it, ",
    "sorry but ",
    "i've always said ",
    "yes, ",
    "trust me, ",
    "to be clear, ",
]
ENDINGS = [
    "",
    "",
    "",
    ".",
    "!",
    " and that's a fact",
    " lol",
    ", end of story",
    " tbh",
    "!!",
    " and everyone knows it",
    " for real",
]

# Hateful (label 1) and non-hateful (label 0) templates; {s} subject (plural unless marked), {o} object,
# {a} one person ('a Muslim'), {adj} group adjective, {be} are/is, {w} a word from the list named second.
HATEFUL = [
    ("{s} {be} {w}", NEG_NOUNS),
    ("{s} {be} {w}", NEG_ADJS),
    ("{s} {be} all {w}", NEG_ADJS),
    ("i {w} {o}", HATE_VERBS),
    ("{s} {w}", DISGUST),
    ("i want to {w} {o}", VIOLENT),
    ("we should {w} all {o}", VIOLENT),
    ("someone needs to {w} {o}", VIOLENT),
    ("i'm going to {w} the next {one} i see", VIOLENT),
    ("{s} should be {w}", VIOLENT_PP),
    ("{s} deserve to be {w}", VIOLENT_PP),
    ("{s} need to be {w}", VIOLENT_PP),
    ("{adj} lives {w}", DEVALUE),
    ("{s} don't deserve {w}", UNDESERVED),
    ("{s} have no right to {w}", ["exist", "live", "vote", "work", "breathe", "be here", "speak", "marry"]),
    ("i'd rather {w} than be near {a}", BAD_THINGS),
    ("{w} is worth more than {a}", ANIMALS),
    ("{w} is smarter than {a}", ANIMALS),
    ("{s} {w}", EXCLUDE),
    ("never trust {a}", [""]),
    (
        "{s} {be} not {w}",
        [
            "human",
            "people",
            "equal to us",
            "real people",
            "worthy of life",
            "one of us",
            "normal",
            "our equals",
        ],
    ),
    ("the world would be better without {o}", [""]),
    ("death to {o}", [""]),
]
NON_HATEFUL = [
    ("{s} {be} {w}", POS_NOUNS),
    ("{s} {be} {w}", POS_ADJS),
    ("{s} {be} all {w}", POS_ADJS),
    ("i {w} {o}", LOVE_VERBS),
    ("{s} {w}", HAPPY),
    ("i want to {w} {o}", KIND),
    ("we should {w} all {o}", KIND),
    ("someone needs to {w} {o}", KIND),
    ("i'm going to {w} the next {one} i see", KIND),
    ("{s} should be {w}", KIND_PP),
    ("{s} deserve to be {w}", KIND_PP),
    ("{s} need to be {w}", KIND_PP),
    ("{adj} lives {w}", MATTER),
    ("{s} deserve {w}", DESERVED),
    ("{s} {w}", FACTS),
    ("my {w} is {a}", ROLES),
    ("my new {w} is {a}", ROLES),
    (
        "i met {a} at {w}",
        ["work", "the gym", "school", "a party", "the bus stop", "church", "the market", "a concert"],
    ),
    ("there are many {p} in my {w}", ["class", "office", "street", "team", "family", "town", "band", "club"]),
    ("no one should {w} {o}", VIOLENT),
    (
        "{s} don't deserve {w}",
        ["hatred", "violence", "abuse", "this", "to be harassed", "insults", "threats", "discrimination"],
    ),
    (
        "{s} {be} not {w}",
        [
            "criminals",
            "a threat",
            "dangerous",
            "the problem",
            "our enemies",
            "to blame",
            "inferior",
            "animals",
        ],
    ),
    ("i'm {a} and proud of it", [""]),
    (
        "{w} {o} is wrong",
        ["hating", "hurting", "attacking", "insulting", "mocking", "excluding", "threatening", "bullying"],
    ),
]


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 toxic, 0 not
    kind: str  # hateful, neutral, everyday
    group: str | None


def _split(items: list, split: str) -> list:
    if len(items) < 4:
        return list(items)
    return [x for i, x in enumerate(items) if (i % 4 == 3) == (split == "heldout")]


def _plural(g: Group, rng: random.Random) -> str:
    """A plural form: a plural noun, or 'X people' for groups named that way ('black people')."""
    people = [f"{a} people" for a in g.adjectives[:1] + g.with_noun[:1]] if g.name.endswith("people") else []
    return rng.choice(list(g.plural) + people)


def _one(g: Group, rng: random.Random) -> str:
    """One person of the group without article: 'Muslim', 'immigrant', 'gay man'."""
    word = rng.choice(list(g.singular) or [f"{g.adjective} person"])
    if (word in g.adjectives or word in g.with_noun) and rng.random() < 0.5:
        word = f"{word} {rng.choice(['person', 'man', 'woman'])}"
    return word


def _fill(template: str, word: str, g: Group, kind: int, rng: random.Random) -> str:
    p = _plural(g, rng)
    subj = [p, f"all {p}", f"these {p}", f"you {p}", f"{p} like you", f"most {p}", f"those {p}", p][kind]
    obj = [p, f"all {p}", f"these {p}", f"you {p}", f"{p} like you", f"any {p}", f"those {p}", p][kind]
    one = _one(g, rng)
    adj = g.adjective if g.adjectives or g.with_noun else p
    return template.format(
        s=subj, o=obj, p=p, be="are", w=word, one=one, a=("an " if one[0] in "aeiou" else "a ") + one, adj=adj
    )


def render(
    split: str = "train", per_group: int = 300, seed: int = 0, matched: bool | None = None
) -> list[Example]:
    """`per_group` hateful and `per_group` non-hateful sentences for every group.

    matched (default for the held-out split): sentence i is the same template with the same words for every
    group, so per-group rates compare groups on matched text. Unmatched (default for training): every group
    draws its own sentences, 20x more distinct wordings for the model to learn from."""
    matched = split == "heldout" if matched is None else matched
    out: list[Example] = []
    for i in range(per_group):
        for g in GROUPS:
            r = random.Random(f"{seed}-{split}-{i}" + ("" if matched else f"-{g.name}"))
            gr = random.Random(f"{seed}-{split}-{i}-{g.name}-forms")
            for label, table in ((1, HATEFUL), (0, NON_HATEFUL)):
                template, words = r.choice(table)
                word, kind = r.choice(_split(words, split)), r.randrange(8)
                text = r.choice(OPENINGS) + _fill(template, word, g, kind, gr) + r.choice(ENDINGS)
                out.append(Example(text, label, "hateful" if label else "neutral", g.name))
    if split == "train":
        out += [Example(t, 0, "everyday", None) for t in EVERYDAY]
    return out


# Non-identity sentences: neutral everyday text, and rude text aimed at no group (toxic for a filter).
EVERYDAY = [
    "what a lovely day for a walk in the park",
    "the train was late again this morning",
    "can't wait for the game tonight",
    "just finished a great book, highly recommend it",
    "the new cafe downtown makes amazing coffee",
    "our team meeting moved to thursday",
    "the recipe needs two cups of flour and an egg",
    "happy birthday to my little brother",
    "the quarterly results beat expectations",
    "the bridge will be closed for repairs next week",
    "we need to kill the bugs in this code before release",
    "the storm destroyed several old trees on our street",
    "this movie was so bad it hurt",
    "i hate mondays so much",
    "that exam absolutely destroyed me",
    "the lakers got crushed last night",
    "the virus should be eradicated with the new vaccine",
    "shoot me a message when you arrive",
]
