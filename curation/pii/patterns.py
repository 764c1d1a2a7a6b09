"""The regular expressions of the pii detectors (Python `re`), each with bounded repetition.

Patterns that would start with a look-behind start with a character class instead and look behind after
it (`[A-Z](?<!\\w.)`): `re` then skips to candidate characters in C, several times faster.
"""

from __future__ import annotations

import re

EMAIL = re.compile(
    r"[\w%+\-](?<![\w.%+\-].)(?:[\w.%+\-]{0,63}+)@"
    r"(?:[^\W_](?:[\w\-]{0,62}[^\W_])?\.){1,8}[^\W\d_]{2,24}(?![\w\-]|\.[^\W\d_])"
)
PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[A-Za-z0-9+/=\s\\:,.]|-(?!----)){0,20000}+"
    r"(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?"
)
URL_CREDENTIALS = re.compile(
    r"://(?<=[A-Za-z0-9]://)([^\s/@:?#\"'<>\x00]{1,128}:[^\s/@?#\"'<>\x00]{1,256})@(?=[\w\[])"
)
# secrets by their published formats; the group name is the kind, the group is what gets redacted
_SECRET_FORMATS = {
    "aws_access_key": r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}"
    r"(?![A-Za-z0-9])",
    "gcp_api_key": r"(?<![\w\-])AIza[0-9A-Za-z_\-]{35}(?![\w\-])",
    "gcp_oauth_secret": r"(?<![\w\-])GOCSPX-[0-9A-Za-z_\-]{28}(?![\w\-])",
    "github_token": r"(?<![\w\-])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82})(?![\w\-])",
    "gitlab_token": r"(?<![\w\-])glpat-[A-Za-z0-9_\-]{20}(?![\w\-])",
    "slack_token": r"(?<![\w\-])xox[abposre]-[A-Za-z0-9\-]{10,250}(?![\w\-])",
    "slack_webhook": r"(?<=hooks\.slack\.com/services/)T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}",
    "stripe_key": r"(?<![\w\-])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,247}(?![\w\-])",
    "stripe_webhook_secret": r"(?<![\w\-])whsec_[A-Za-z0-9+/=]{32,}(?![\w\-])",
    "anthropic_key": r"(?<![\w\-])sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,120}(?![\w\-])",
    "openai_key": r"(?<![\w\-])sk-(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}"
    r"(?![\w\-])|(?<![\w\-])sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,250}(?![\w\-])"
    r"|(?<![\w\-])sk-[A-Za-z0-9]{48}(?![\w\-])",
    "huggingface_token": r"(?<![\w\-])hf_[A-Za-z]{34}(?![\w\-])",
    "npm_token": r"(?<![\w\-])npm_[A-Za-z0-9]{36}(?![\w\-])",
    "sendgrid_key": r"(?<![\w\-])SG\.[\w\-]{22}\.[\w\-]{43}(?![\w\-])",
    "azure_storage_key": r"(?<=AccountKey=)[A-Za-z0-9+/]{86}==",
    "azure_sas_signature": r"(?<=[?&;]sig=)[A-Za-z0-9%+/]{30,120}(?:=|%3D){0,2}",
    "azure_client_secret": r"(?<![\w~.\-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![\w~.\-])",
    "jwt": r"(?<![\w\-])eyJ[A-Za-z0-9_\-]{10,2000}\.eyJ[A-Za-z0-9_\-]{10,4000}\.[A-Za-z0-9_\-]{10,1000}"
    r"(?![\w\-])",
}
SECRET_FORMATS = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _SECRET_FORMATS.items()))
# every format above contains one of these; tokens of 16+ token characters that contain one are checked
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.~%]{16,}")
SECRET_PREFIX = re.compile(
    r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA|Iza|ccountKey=)|GOCSPX-|gh[pousr]_|github_pat_|glpat-|xox"
    r"|hooks\.slack\.com/services/|[sr]k_(?:live|test)_|whsec_|sk-|hf_|npm_|SG\.|sig=|\dQ~|eyJ"
)
# key words are found case-sensitively in their usual spellings, one regex per case (each has few first
# characters, so it is fast), then matched in full, case-insensitively, where they occur
KEY_WORDS = [
    re.compile(
        r"api[_.\-]?[Kk]ey|apikey|secret|token|passw(?:or)?d|pwd|access[_.\-]?[Kk]ey|credential"
        r"|private[_.\-]?[Kk]ey|signing[_.\-]?[Kk]ey|auth[_.\-]?[Kk]ey|client[_.\-]?[Ss]ecret|auth[Tt]oken"
    ),
    re.compile(
        r"API[_.\-]?KEY|APIKEY|SECRET|TOKEN|PASSW(?:OR)?D|PWD|ACCESS[_.\-]?KEY|CREDENTIAL|PRIVATE[_.\-]?KEY"
        r"|SIGNING[_.\-]?KEY|AUTH[_.\-]?KEY"
    ),
    re.compile(
        r"Api[_.\-]?Key|ApiKey|Secret|Token|Passw(?:or)?d|Pwd|AccessKey|Credential|PrivateKey|AuthKey"
    ),
]
BEARER_WORD = re.compile(r"[Bb]earer|BEARER|[Aa]uthorization|AUTHORIZATION")
BEARER = re.compile(
    r"(?i:bearer|authorization:\s*(?:basic|token|digest|bearer))\s+([A-Za-z0-9._~+/\-]{12,4000}=*)"
)
QUERY_TOKEN = re.compile(
    r"[?&](?i:access_token|auth_token|token|api_key|apikey|key|secret|client_secret|password|passwd|pwd)"
    r"=([^&\s#\"'<>\x00]{8,512})"
)
ASSIGNMENT = re.compile(
    r"(?i:api[_.\-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|access[_.\-]?key|credentials?|"
    r"private[_.\-]?key|signing[_.\-]?key|auth[_.\-]?key|client[_.\-]?secret|auth[_.\-]?token)"
    r"[\w.\-]{0,30}[\"'\]]?\s{0,3}(?:=|:=|=>|:|\s=\s)\s{0,3}"
    r"(?:\"([^\"\s\x00]{6,256})\"|'([^'\s\x00]{6,256})'|`([^`\s\x00]{6,256})`|([A-Za-z0-9_\-+/=.~!@#$%^&*]{12,256}))"
)
PASSWORD_KEY = re.compile(r"(?i)passw|pwd")
IBAN = re.compile(r"[A-Z](?<!\w.)[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?!\w)")
# digit runs with separators: phone numbers, cards, national ids
# groups are atomic: a run that ends in a word ("6885 7th") gives back whole groups, never splits digits
NUMBER = re.compile(
    r"(?:\+(?<![\w+@/.\-,].)\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?>[ .\-]?\d{1,8}){1,7}"
    r"|\((?<![\w+@/.\-,].)\d{2,5}\)[ .\-]?\d{2,5}(?>[ .\-]?\d{2,5}){0,3}"
    r"|\d(?<![\w+@/.\-,].)(?:\d{6,18}+(?>[ .\-/]\d{1,8}){0,7}|\d{0,5}+(?>[ .\-/]\d{1,8}){1,7}))"
    r"(?: ?(?:x|ext\.?|#) ?\d{1,6})?"  # an extension
    r"(?![\w@]|[.,\-/]\d)"
)
NINO = re.compile(r"[A-CEGHJ-PR-TW-Z](?<!\w.)[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)")
NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}
DNI = re.compile(r"([XYZ\d](?<![\w\-.+,].)\d{6,7})-?([A-Z])(?![\w\-+])")
SSN_CONTEXT = re.compile(r"(?i:ssn|social security(?: number| no\.?)?|\bss#)\W{0,5}(\d{9})(?!\w)")
SSN_WORD = re.compile(r"SSN|ssn|Ssn|[Ss]ocial [Ss]ecurity|SOCIAL SECURITY|SS#")
SIN_CONTEXT = re.compile(r"(?i:(?<![a-z])sin\b|social insurance)")
IPV4 = re.compile(r"\d(?<![\w.:\-/].)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w\-]|\.\d)")
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w]{1,15})?"
    r"(?![\w:.])"
)
IPV6_FULL = re.compile(
    r"[0-9A-Fa-f](?<![\w:.].)[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{1,4}){7}(?:%\w{1,15})?(?![\w:.])"
)
