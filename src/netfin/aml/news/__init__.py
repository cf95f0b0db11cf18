"""News and social-media early warning (舆情预警, MISSION.md S3).

Headlines and posts come in from files (JSON Lines, CSV) or HTTP feeds (RSS
2.0, Atom, JSON Feed); each is scored for financial sentiment (English: the
Loughran-McDonald lists with directional phrases and negation; Chinese:
jieba and a financial lexicon), linked to the watched customers and
counterparties by name, and stored. When an entity's recent sentiment falls
sharply below its own baseline, a market-risk warning is raised for staff
to review.

Invariants: nothing is downloaded at run time (lexicons ship with this
package or an installed one); an item is stored once (by source and URL,
and by content); a sentiment value lies in [-1, 1]; every threshold of the
warning rule lives in ``config/default.yaml`` (or a file of that shape);
at most one open warning per entity per recent window; ingests, warnings and
acknowledgements are audited.

Public names: ``NewsItem``, ``Entity``, ``EntityKind``, ``Mention``,
``SentimentScore``, ``SentimentLabel``, ``SentimentPoint``, ``EarlyWarning``,
``WarningStatus`` (model); ``Scorer``, ``LoughranMcDonaldScorer``,
``ChineseLexiconScorer``, ``SnowNlpScorer``, ``MultilingualScorer``,
``default_scorer``, ``detect_language`` (sentiment); ``TfidfScorer``,
``train_scorer`` (supervised); ``Linker``, ``default_fold`` (linking);
``WarningConfig``, ``load_config``, ``assess``, ``evaluate`` (early_warning);
``read_file``, ``fetch_feed``, ``parse_feed`` (ingest); ``NewsStore``,
``TABLES`` (store); ``NewsService``, ``IngestReport`` (service).
"""

from netfin.aml.news.early_warning import WarningConfig, assess, evaluate, load_config
from netfin.aml.news.ingest import fetch_feed, parse_feed, read_file
from netfin.aml.news.linking import Linker, default_fold
from netfin.aml.news.model import (
    EarlyWarning,
    Entity,
    EntityKind,
    Mention,
    NewsItem,
    SentimentLabel,
    SentimentPoint,
    SentimentScore,
    WarningStatus,
)
from netfin.aml.news.sentiment import (
    ChineseLexiconScorer,
    LoughranMcDonaldScorer,
    MultilingualScorer,
    Scorer,
    SnowNlpScorer,
    default_scorer,
    detect_language,
)
from netfin.aml.news.service import IngestReport, NewsService
from netfin.aml.news.store import TABLES, NewsStore
from netfin.aml.news.supervised import TfidfScorer, train_scorer

__all__ = [
    "TABLES",
    "ChineseLexiconScorer",
    "EarlyWarning",
    "Entity",
    "EntityKind",
    "IngestReport",
    "Linker",
    "LoughranMcDonaldScorer",
    "Mention",
    "MultilingualScorer",
    "NewsItem",
    "NewsService",
    "NewsStore",
    "Scorer",
    "SentimentLabel",
    "SentimentPoint",
    "SentimentScore",
    "SnowNlpScorer",
    "TfidfScorer",
    "WarningConfig",
    "WarningStatus",
    "assess",
    "default_fold",
    "default_scorer",
    "detect_language",
    "evaluate",
    "fetch_feed",
    "load_config",
    "parse_feed",
    "read_file",
    "train_scorer",
]
