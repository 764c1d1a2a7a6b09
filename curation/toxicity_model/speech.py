"""Synthetic sentences for what a bag of n-grams gets wrong: counter-speech, negation, reporting, implicit hate.

Why: the Davidson tweets and the plain templates of `templates.py` teach "hateful words near a group → toxic",
so a model trained on them flags "calling Muslims vermin is bigotry" and "I would never hurt a gay person".
Here, hateful statements (rendered from `templates.HATEFUL`) are embedded in frames that condemn, deny,
quote or report them (label 0), next to negated kind statements and implicit hate without slurs or insults:
stereotypes, exclusion, replacement talk, backhanded compliments, loaded questions (label 1), and neutral
facts that mention a group together with negative topics (discrimination, hate crimes) (label 0).

All of it was written for mixloom; no sentence comes from HateCheck or any other test suite (a test checks
that no HateCheck case is in the training data). Every group of `curation.identity` gets the same number of
sentences of every kind; `split="heldout"` uses every 4th frame and word (disjoint from training), so the
threshold is chosen on wording the model did not see.
"""

from __future__ import annotations

import random

from curation.identity import GROUPS, Group
from curation.toxicity_model.templates import (
    DISGUST,
    HATEFUL,
    NEG_ADJS,
    NEG_NOUNS,
    VIOLENT,
    Example,
    _fill,
    _one,
    _plural,
    _split,
)

# --- frames around a hateful statement {h} that condemn, deny, quote or report it (label 0) ---------------
COUNTER = [
    'whoever wrote "{h}" on that wall should be ashamed of themselves',
    "people who claim {h} are spreading ignorance",
    "my uncle keeps insisting {h}. i told him that is plain bigotry",
    "it is bigoted to claim {h}",
    "the idea that {h} is a lie and a dangerous one",
    "nobody should ever tell you {h}",
    'the post said "{h}" and it was rightly taken down',
    "i reported a comment that said {h}",
    "when someone tells you {h}, call it out",
    'a sign reading "{h}" was found outside the school and police are investigating',
    "a survey found that one in five people believe {h}, which is alarming",
    '"{h}" - this is exactly the kind of hate we have to fight',
    "stop spreading the lie that {h}",
    "anyone who thinks {h} needs to educate themselves",
    "so he really posted that {h}? what an ignorant man",
    'the hateful slogan "{h}" has no place in our town',
    "i can't believe people still say {h} in 2024",
    "teachers should explain why claiming {h} is wrong",
    'the article quotes a troll who wrote "{h}"',
    "she was fired for telling customers {h}, and good riddance",
    "claiming {h} is racist nonsense",
    "it's disgusting that some politicians still suggest {h}",
    "the moderators deleted every message saying {h}",
    '"{h}" is not an opinion, it is hate',
    "shame on the commenters who wrote {h}",
    "i'm sick of trolls saying {h}",
    "my grandfather used to say {h}, and i am glad that generation is changing",
    "repeating that {h} only shows your prejudice",
    "the study debunks the myth that {h}",
    "the court convicted a man who shouted {h} at his neighbours",
    "if anyone here says {h} they will be banned",
    "there is no excuse for saying {h}",
    "you don't get to say {h} and call it free speech",
    "those protesters chanting {h} should be condemned",
    'writing "{h}" online is harassment, plain and simple',
    "never believe anyone who tells you {h}",
    '"{h}" is a vile thing to post about anyone',
    "what a disgusting thing to write: {h}",
    "only a bigot would say {h}",
    "you're a bigot if you think {h}",
    "anyone who says {h} is a bigot",
    "he is a hateful fool for saying {h}",
    "if your friend says {h}, tell them it is wrong",
    'posting "{h}" makes you the ugly one',
    "if you believe {h}, you need to meet more people",
    "if he claims {h}, he is simply wrong",
    "when you say {h}, you only show your own prejudice",
    "thinking that {h} is pure prejudice",
    "believing {h} is ignorant",
    "calling {o} {n} is just bigotry",
    "calling {o} {n} says more about you than about them",
    "stop calling {o} {n}",
    'statements like "{h}" are hateful and false',
    '"{h}"? what a hateful thing to say',
    '"{h}", he yelled, before he was arrested',
    "no, it is not true that {h}",
    "you keep saying {h}, but that's just not true",
    "people who say {h} should be ashamed",
    "so you really think {h}? that's bigoted",
    "it's wrong to say {h}",
    "it's hateful to suggest {h}",
    "i am tired of hearing that {h}",
    "the speaker was booed off stage after claiming {h}",
    "to everyone who tweeted {h}: you are the problem",
    "i can't believe my coworker said {h} out loud",
    'if someone tells you "{h}", walk away',
]
# denials: the speaker rejects the hateful claim about {s} (label 0)
DENY = [
    "i don't {hv} {o}",
    "i have never {hvp} {o} and never will",
    "i could never {hv} {o}",
    "i would never {v} {o}",
    "nobody here wants to {v} {o}",
    "no one in this family {hvs} {o}",
    "{s} are not {n}",
    "{s} are in no way {na}",
    "{s} aren't {na} at all",
    "it is not true that {s} are {na}",
    "i refuse to believe {s} are {n}",
    "i never said {s} are {na}",
    "{s} are neither {na} nor {n}",
    "don't ever call {o} {n}",
    "there is nothing {na} about {o}",
    "we must never {v} {o}",
    "{s} don't {dis}",
    "none of the {p} i know are {na}",
    "i don't think {s} are {na}",
    "calling {o} {n} is never okay",
    "{s} are no {threat} to anyone",
    "i have never {hvp} {o} in my life",
    "i would never hurt {a}",
    "i don't {hv} {a}, why would i",
    "let me say it plainly: i don't {hv} {o}",
    "{s} are not {na}, period",
    "i do not {hv} {o} and i never have",
    "{s} are not {threat}s",
    "i don't think {s} are {n} at all",
    "i'd never say {s} are {na}",
    "{s} are not {na} in any way",
    "it's not like {s} are {na}",
    "no, {s} are not {n}",
    "i don't want to {v} {o}",
    "nobody i know thinks {s} are {na}",
    "we don't {hv} {o} here",
    "i have no problem with {o}",
    "i don't have anything against {o}",
    "{s} don't deserve {badthing}",
    "i never wished {badthing} on {o}",
]
BADTHING = ["hatred", "violence", "abuse", "death threats", "insults", "harassment", "contempt", "cruelty"]
THREAT = ["threat", "danger", "problem", "burden", "menace", "risk", "plague", "enemy"]
HATE = ["hate", "despise", "detest", "loathe", "resent", "look down on", "fear", "mock"]
HATED = [
    "hated",
    "despised",
    "detested",
    "loathed",
    "resented",
    "looked down on",
    "mistreated",
    "insulted",
]
HATES = ["hates", "despises", "detests", "loathes", "resents", "looks down on", "mocks", "insults"]
# negated kindness and other negated positives: hateful (label 1)
NEG_KIND = [
    "i don't {lv} {o} one bit",
    "i will never {lv} {o}",
    "{s} will never be {pa}",
    "{s} aren't {pn}, whatever they tell you",
    "nobody wants {o} {where}",
    "{s} have never done anything {good}",
    "{s} are not {pa} and never were",
    "i can't find a single good thing to say about {o}",
    "no sane person would {kv} {o}",
    "{s} don't deserve to be {kpp}",
    "i refuse to {kv} {o}",
    "{s} should never be {kpp}",
]
LOVE = ["like", "trust", "respect", "admire", "want", "welcome", "support", "care about"]
POS_ADJ = [
    "welcome here",
    "equal to us",
    "real citizens",
    "trustworthy",
    "intelligent",
    "decent",
    "normal",
    "safe",
]
POS_NOUN = [
    "real people",
    "our equals",
    "good neighbours",
    "fully human",
    "citizens",
    "part of us",
    "victims",
    "innocent",
]
WHERE = [
    "around here",
    "in our street",
    "in this country",
    "near our kids",
    "at our school",
    "in our club",
    "in our office",
    "in this town",
]
GOOD = ["useful", "good", "worthwhile", "right", "decent", "valuable", "honest", "helpful"]
KV = ["hire", "trust", "befriend", "marry", "help", "welcome", "rent to", "vote for"]
KPP = ["hired", "trusted", "welcomed", "respected", "protected", "included", "heard", "promoted"]
# implicit hate without slurs or insults (label 1): stereotypes, exclusion, replacement, backhanded, questions
IMPLICIT = [
    "{s} are ruining this country",
    "{s} bring crime wherever they go",
    "{s} only care about {selfish}",
    "{s} are taking over our {place}",
    "you can always tell when {s} have moved into a {place}, it goes downhill",
    "{s} will replace us if we don't act",
    "{s} should stick to {menial}",
    "keep {o} out of {power}",
    "{s} don't belong in {power}",
    "{s} are a threat to our way of life",
    "it's a shame {s} are allowed to vote",
    "we were better off before {s} showed up",
    "{s} need to learn their place",
    "why are {s} always so {stereo}?",
    "why do {s} always {habit}?",
    "{s} are {stereo} by nature",
    "{s} are naturally {stereo}",
    "you're pretty smart for {a}",
    "{a} as a {role}? no thanks",
    "i would never let my daughter date {a}",
    "i wouldn't rent my flat to {a}",
    "{s} can't be trusted with {trust}",
    "if {a} moves next door, lock your doors",
    "{s} breed like rabbits",
    "{s} are all the same, {stereo} and {stereo2}",
    "never hire {a}, they are all {stereo}",
    "{s} are the reason {decline}",
    "too many {p} in {place} these days, it's not our {place} anymore",
    "{s} have nothing to offer this country",
    "{s} contribute nothing but {trouble}",
    "{s} should be grateful we let them stay",
    "{s} are a drain on {resources}",
    "{s} shouldn't be allowed to {right}",
    "having {p} as {role}s is a mistake",
    "{s} are not capable of {skill}",
    "{s} are incapable of {skill}",
]
SELFISH = [
    "money",
    "themselves",
    "their own kind",
    "handouts",
    "power",
    "getting ahead",
    "free stuff",
    "benefits",
]
PLACE = ["neighbourhood", "schools", "city", "town", "jobs", "streets", "country", "workplaces"]
MENIAL = [
    "cleaning",
    "the kitchen",
    "manual labour",
    "serving others",
    "cooking",
    "housework",
    "farm work",
    "menial jobs",
]
POWER = [
    "government",
    "positions of power",
    "our police",
    "the army",
    "our universities",
    "the boardroom",
    "politics",
    "leadership",
]
STEREO = [
    "lazy",
    "greedy",
    "violent",
    "sneaky",
    "loud",
    "dirty",
    "aggressive",
    "dishonest",
    "ignorant",
    "irrational",
]
STEREO2 = [
    "untrustworthy",
    "entitled",
    "hostile",
    "backward",
    "unclean",
    "unreliable",
    "manipulative",
    "dangerous",
]
HABIT = [
    "play the victim",
    "complain about everything",
    "steal",
    "cheat",
    "lie",
    "cause trouble",
    "demand special treatment",
    "take our jobs",
]
ROLES = ["boss", "doctor", "pilot", "teacher", "judge", "leader", "president", "manager"]
TRUST = [
    "money",
    "children",
    "power",
    "responsibility",
    "weapons",
    "secrets",
    "our safety",
    "anything important",
]
DECLINE = [
    "crime is up",
    "our schools are failing",
    "wages are down",
    "the city is dirty",
    "rents are so high",
    "nobody feels safe",
    "this country is broke",
    "things got worse",
]
TROUBLE = ["trouble", "crime", "problems", "noise", "debt", "chaos", "disease", "violence"]
RESOURCES = [
    "society",
    "our economy",
    "the welfare system",
    "taxpayers",
    "our hospitals",
    "the state",
    "our resources",
    "public money",
]
RIGHT = [
    "vote",
    "teach",
    "adopt",
    "own property",
    "run for office",
    "work here",
    "raise children",
    "serve in the army",
]
SKILL = [
    "leading",
    "logical thought",
    "real work",
    "science",
    "running a business",
    "self-control",
    "honesty",
    "abstract thinking",
]
# neutral facts, including negative topics the group suffers (label 0)
NEUTRAL = [
    "hate crimes against {o} rose last year, the report says",
    "{s} have faced discrimination for centuries",
    "the museum opened an exhibit on the history of {o}",
    "a new study looks at how {s} are portrayed in films",
    "{s} were persecuted during the war",
    "the charity runs a helpline for {o} who experience abuse",
    "how many {p} live in canada?",
    "the documentary follows three {p} over a year",
    "the panel included two {p} and a historian",
    "many {p} say they feel unsafe after the attacks",
    "the law protects {o} from discrimination at work",
    "our book club read a memoir by {a}",
    "the poll asked {o} about housing costs",
    "the violence against {o} must be investigated",
    "{s} are often the target of online abuse",
    "the mayor met with {o} to discuss the new park",
    "the course covers the traditions of {o}",
    "i asked {a} at work what the holiday means to them",
    "researchers interviewed {o} about their experience of racism",
    "stereotypes about {o} are harmful and false",
    "we discussed the history of violence against {o} in class",
    "{s} and their allies marched downtown on saturday",
    "what percentage of doctors are {p}?",
    "the new policy affects {o} the most",
    "my friend is {a} and works as an engineer",
    "a festival celebrating {o} starts next week",
    "the newspaper apologised for a cartoon that mocked {o}",
    "the group supports {o} who lost their jobs",
    "my colleague, {a}, just got promoted",
    "there are more {p} in the city than there were ten years ago",
    "the survey was answered by 300 {p}",
    "she wrote her thesis on {o} in the labour market",
    "the hospital hired {a} as its new director",
    "{s} are protected by the equality act",
    "an exhibition of photographs by {p} opens today",
    "we need more {p} in science",
]


def _core(rng: random.Random, g: Group, split: str) -> str:
    """A hateful statement without opening or ending, in third person ('i hate X' as 'they hate X')."""
    template, words = rng.choice(HATEFUL)
    word = rng.choice(_split(words, split))
    text = _fill(template, word, g, rng.choice([0, 0, 2, 6, 7]), rng)
    if text.startswith("i'm "):
        text = rng.choice(["he is ", "they are "]) + text[4:]
    elif text.startswith("i'd "):
        text = rng.choice(["he'd ", "they'd "]) + text[4:]
    elif text.startswith("i "):
        text = rng.choice(["they ", "you "]) + text[2:]
    return text.replace(" i ", " they ")


def _slots(rng: random.Random, g: Group, split: str) -> dict[str, str]:
    p = _plural(g, rng)
    one = _one(g, rng)

    def pick(xs: list[str]) -> str:
        return rng.choice(_split(xs, split))

    return dict(
        p=p,
        s=rng.choice([p, p, f"all {p}", f"most {p}"]),
        o=rng.choice([p, p, f"all {p}", f"any {p}"]),
        a=("an " if one[0] in "aeiou" else "a ") + one,
        hv=pick(HATE),
        hvp=pick(HATED),
        rock=pick(ROCK),
        fun=pick(FUN),
        smart=pick(SMART),
        praisething=pick(PRAISETHING),
        best=pick(BEST),
        better=pick(BETTER),
        threat=pick(THREAT),
        badthing=pick(BADTHING),
        hvs=pick(HATES),
        v=pick(VIOLENT),
        n=pick(NEG_NOUNS),
        na=pick(NEG_ADJS),
        dis=pick(DISGUST).replace("are the worst", "ruin anything"),
        lv=pick(LOVE),
        pa=pick(POS_ADJ),
        pn=pick(POS_NOUN),
        where=pick(WHERE),
        good=pick(GOOD),
        kv=pick(KV),
        kpp=pick(KPP),
        selfish=pick(SELFISH),
        place=pick(PLACE),
        menial=pick(MENIAL),
        power=pick(POWER),
        stereo=pick(STEREO),
        stereo2=pick(STEREO2),
        habit=pick(HABIT),
        role=pick(ROLES),
        frole=pick(FRIEND_ROLES),
        trust=pick(TRUST),
        decline=pick(DECLINE),
        trouble=pick(TROUBLE),
        resources=pick(RESOURCES),
        right=pick(RIGHT),
        skill=pick(SKILL),
    )


# short neutral mentions: self-identification, plain facts (label 0)
SHORT = [
    "i am {a}",
    "i'm {a}",
    "as {a}, i agree",
    "we are {p}",
    "{s} exist",
    "{s} are people",
    "my wife is {a}",
    "my brother is {a}",
    "i'm proud to be {a}",
    "proud to be {a}",
    "{a} lives next door",
    "being {a} is normal",
    "i grew up as {a}",
    "{s} are human beings",
    "there are {p} everywhere",
    "she is {a}",
    "he's {a}",
    "both my parents are {p}",
    "i know many {p}",
    "{a} spoke first",
    "we welcome {p}",
    "{p} are part of society",
    "two {p} walk into a cafe",
    "{a} wrote this",
]
# informal praise and support in everyday words (label 0): positives worded unlike the plain templates
PRAISE = [
    "{s} {rock}",
    "{s} are so {fun}",
    "{s} are so {fun}!",
    "we are lucky to have {o} here",
    "the world needs more {p}",
    "nothing beats {praisething} with {a}",
    "{s} are just as {smart} as anyone",
    "i want to live near {o}",
    "shoutout to all the {p} out there",
    "love these {p} so much",
    "{s} are the best, no contest",
    "can't get enough of {o}",
    "big respect to {o}",
    "{s} always make the party {fun}",
    "i'd go anywhere with {o}",
    "{s} have the {best} sense of humour",
    "honestly {s} are {fun} and {smart}",
    "my {frole} is {a} and she is {fun}",
    "{s} make this town so much {better}",
    "never met {a} i didn't like",
    "hanging out with {o} is always {fun}",
    "{s} are total legends",
    "so grateful for the {p} in my life",
    "{s} deserve every success",
    "this city would be boring without {o}",
    "{s} bring so much joy",
    "i feel at home with {o}",
    "cheers to the {p} who organised this",
]
ROCK = [
    "rock",
    "are awesome",
    "are the coolest",
    "are hilarious",
    "are lit",
    "are amazing",
    "are fab",
    "slay",
]
FUN = ["funny", "fun", "cool", "chill", "sweet", "lovely", "friendly", "entertaining", "lively", "nice"]
SMART = ["smart", "capable", "talented", "skilled", "clever", "good", "strong", "hardworking"]
PRAISETHING = [
    "a good chat",
    "a long walk",
    "dinner",
    "a game of chess",
    "a coffee",
    "a road trip",
    "a night out",
    "a laugh",
]
BEST = ["best", "greatest", "sharpest", "warmest", "funniest", "kindest", "brightest", "loveliest"]
BETTER = ["better", "livelier", "richer", "more fun", "more interesting", "brighter", "stronger", "happier"]
FRIEND_ROLES = ["roommate", "neighbour", "best friend", "coworker", "teammate", "boss", "teacher", "cousin"]
KINDS: dict[str, tuple[int, list[str]]] = {
    "counter": (0, COUNTER),
    "denial": (0, DENY),
    "negated_kind": (1, NEG_KIND),
    "implicit": (1, IMPLICIT),
    "neutral_fact": (0, NEUTRAL),
    "short": (0, SHORT),
    "praise": (0, PRAISE),
}


def render(split: str = "train", per_group: int = 100, seed: int = 0) -> list[Example]:
    """`per_group` sentences of every kind for every group (the same frames for every group in the held-out
    split; the words filling them may differ)."""
    out: list[Example] = []
    for i in range(per_group):
        for g in GROUPS:
            for kind, (label, frames) in KINDS.items():
                r = random.Random(f"{seed}-{split}-{kind}-{i}" + ("" if split == "heldout" else g.name))
                frame = r.choice(_split(frames, split))
                slots = _slots(r, g, split)
                text = frame.replace("{h}", _core(r, g, split)) if "{h}" in frame else frame.format(**slots)
                if r.random() < 0.3:
                    text = text[:1].upper() + text[1:] + r.choice([".", "!", "", "."])
                out.append(Example(text, label, kind, g.name))
    return out
