# ruff: noqa: E501  (word tables read best one entry per line)
"""The fixed vocabulary of the demo world: languages, regions, genres, tags, themes and words.

Everything here is data, not randomness: the generators draw from these lists
with a seeded generator, so the same seed always picks the same words. Title
names are built from a small multilingual concept dictionary so that one title
can be named in every language (its original name, and its localisations)
and still mean the same thing, the way "Aag ka Dil" is "Heart of Fire".

Original names are romanised (Latin script), as Indian and many Asian
releases are marketed, so that the artwork's DejaVu font can render them;
the native-script spelling goes into the title's localisation.
"""

from dataclasses import dataclass

from recommendations.engine.row_ranking import ROW_TYPES as ENGINE_ROW_TYPES

# --- Languages and regions ---------------------------------------------------------------

# code -> (English name, native name)
LANGUAGES: dict[str, tuple[str, str]] = {
    "hi": ("Hindi", "हिन्दी"),
    "ta": ("Tamil", "தமிழ்"),
    "te": ("Telugu", "తెలుగు"),
    "ml": ("Malayalam", "മലയാളം"),
    "en": ("English", "English"),
    "ko": ("Korean", "한국어"),
    "es": ("Spanish", "Español"),
    "ja": ("Japanese", "日本語"),
    "pt": ("Portuguese", "Português"),
}
LANGUAGE_CODES: tuple[str, ...] = tuple(LANGUAGES)

# Share of the catalogue by original language: an Indian service with a global
# library (Hindi and English lead, the southern industries strong, K-dramas and
# anime popular).
CATALOGUE_LANGUAGE_SHARE: dict[str, float] = {
    "en": 0.28,
    "hi": 0.24,
    "ta": 0.10,
    "te": 0.09,
    "ml": 0.07,
    "ko": 0.08,
    "ja": 0.06,
    "es": 0.05,
    "pt": 0.03,
}


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    default_language: str
    time_zone: str
    account_share: float
    # Household primary language -> probability, for households of this region.
    household_languages: dict[str, float]
    # Device class -> typical share of a grown-up's viewing.
    devices: dict[str, float]


REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec(
        "IN",
        "India",
        "hi",
        "Asia/Kolkata",
        0.55,
        {"hi": 0.45, "ta": 0.20, "te": 0.17, "ml": 0.12, "en": 0.06},
        {"mobile": 0.5, "tv": 0.3, "web": 0.1, "tablet": 0.1},
    ),
    RegionSpec(
        "US",
        "United States",
        "en",
        "America/New_York",
        0.20,
        {"en": 0.78, "es": 0.10, "hi": 0.04, "te": 0.03, "ko": 0.05},
        {"tv": 0.5, "mobile": 0.2, "web": 0.15, "tablet": 0.15},
    ),
    RegionSpec(
        "GB",
        "United Kingdom",
        "en",
        "Europe/London",
        0.10,
        {"en": 0.85, "hi": 0.08, "ta": 0.03, "ko": 0.04},
        {"tv": 0.5, "mobile": 0.2, "web": 0.15, "tablet": 0.15},
    ),
    RegionSpec(
        "BR",
        "Brazil",
        "pt",
        "America/Sao_Paulo",
        0.09,
        {"pt": 0.85, "es": 0.08, "en": 0.07},
        {"mobile": 0.4, "tv": 0.4, "web": 0.1, "tablet": 0.1},
    ),
    RegionSpec(
        "KR",
        "South Korea",
        "ko",
        "Asia/Seoul",
        0.06,
        {"ko": 0.9, "ja": 0.05, "en": 0.05},
        {"mobile": 0.45, "tv": 0.35, "web": 0.1, "tablet": 0.1},
    ),
)
REGION_BY_CODE: dict[str, RegionSpec] = {r.code: r for r in REGIONS}

# Where a title of each original language is licensed, and how likely each
# region is to carry it. Regions absent from a language's map carry it only
# when the title is global (originals, hits).
LANGUAGE_REGIONS: dict[str, dict[str, float]] = {
    "hi": {"IN": 1.0, "US": 0.35, "GB": 0.4},
    "ta": {"IN": 1.0, "US": 0.3, "GB": 0.3},
    "te": {"IN": 1.0, "US": 0.35, "GB": 0.2},
    "ml": {"IN": 1.0, "US": 0.2, "GB": 0.2},
    "en": {"US": 1.0, "GB": 0.95, "IN": 0.7, "BR": 0.55, "KR": 0.45},
    "ko": {"KR": 1.0, "US": 0.6, "IN": 0.55, "GB": 0.5, "BR": 0.4},
    "ja": {"KR": 0.7, "US": 0.7, "IN": 0.6, "GB": 0.6, "BR": 0.5},
    "es": {"US": 0.8, "BR": 0.6, "GB": 0.3, "IN": 0.2},
    "pt": {"BR": 1.0, "US": 0.25},
}

# Taste clusters keyed by language (region -> slug -> (name, languages)); every
# region also gets a default cluster.
CLUSTERS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "IN": {
        "hindi": ("Hindi", ("hi",)),
        "tamil": ("Tamil", ("ta",)),
        "telugu": ("Telugu", ("te",)),
        "malayalam": ("Malayalam", ("ml",)),
    },
}
DEFAULT_CLUSTER_SLUG = "default"
DEFAULT_CLUSTER_NAME = "Everyone"

# --- Genres, tags, artwork themes ------------------------------------------------------

GENRES: tuple[str, ...] = (
    "action",
    "thriller",
    "romance",
    "comedy",
    "drama",
    "crime",
    "documentary",
    "sports",
    "animation",
    "family",
    "horror",
    "sci-fi",
    "fantasy",
    "mystery",
    "musical",
    "history",
)
GENRE_NAMES: dict[str, str] = {
    "sci-fi": "Sci-Fi",
    "history": "Period & History",
}

# Genres that tend to appear together on one title.
GENRE_COMPANIONS: dict[str, tuple[str, ...]] = {
    "action": ("thriller", "crime", "sci-fi", "comedy", "drama"),
    "thriller": ("crime", "mystery", "action", "drama", "horror"),
    "romance": ("drama", "comedy", "musical", "family"),
    "comedy": ("romance", "family", "drama", "action"),
    "drama": ("romance", "family", "crime", "history", "sports"),
    "crime": ("thriller", "drama", "mystery", "action"),
    "documentary": ("sports", "crime", "history", "musical"),
    "sports": ("drama", "documentary", "comedy"),
    "animation": ("family", "comedy", "fantasy", "action", "sci-fi"),
    "family": ("comedy", "drama", "animation", "musical"),
    "horror": ("thriller", "mystery", "comedy"),
    "sci-fi": ("action", "thriller", "mystery", "fantasy"),
    "fantasy": ("action", "animation", "romance", "history"),
    "mystery": ("thriller", "crime", "horror", "drama"),
    "musical": ("romance", "drama", "comedy", "family"),
    "history": ("drama", "action", "romance", "documentary"),
}

# How much more (or less) often each language's industry makes each genre
# than the catalogue's baseline.
LANGUAGE_GENRE_BIAS: dict[str, dict[str, float]] = {
    "hi": {"romance": 1.8, "drama": 1.5, "comedy": 1.4, "musical": 2.0, "crime": 1.3},
    "ta": {"action": 2.2, "drama": 1.3, "comedy": 1.3, "crime": 1.2},
    "te": {"action": 2.4, "fantasy": 1.6, "romance": 1.3, "history": 1.5},
    "ml": {"drama": 1.8, "thriller": 1.8, "mystery": 1.8, "comedy": 1.4},
    "en": {"sci-fi": 1.6, "documentary": 1.8, "crime": 1.4, "horror": 1.5, "animation": 1.3},
    "ko": {"romance": 2.0, "thriller": 1.8, "drama": 1.6, "horror": 1.3},
    "ja": {"animation": 4.0, "fantasy": 2.0, "sci-fi": 1.6, "action": 1.3},
    "es": {"crime": 2.0, "thriller": 1.5, "drama": 1.4, "romance": 1.3},
    "pt": {"drama": 1.5, "comedy": 1.6, "crime": 1.5, "sports": 1.6},
}
GENRE_BASE_SHARE: dict[str, float] = {
    "action": 1.2,
    "thriller": 1.1,
    "romance": 1.0,
    "comedy": 1.1,
    "drama": 1.4,
    "crime": 0.9,
    "documentary": 0.7,
    "sports": 0.4,
    "animation": 0.5,
    "family": 0.5,
    "horror": 0.5,
    "sci-fi": 0.5,
    "fantasy": 0.4,
    "mystery": 0.5,
    "musical": 0.3,
    "history": 0.4,
}

TAGS: dict[str, str] = {
    "slow-burn": "Slow burn",
    "strong-female-lead": "Strong female lead",
    "cricket": "Cricket",
    "based-on-true-story": "Based on a true story",
    "feel-good": "Feel-good",
    "dark": "Dark",
    "twist-ending": "Twist ending",
    "coming-of-age": "Coming of age",
    "family-saga": "Family saga",
    "small-town": "Small town",
    "gangster": "Gangster",
    "mythology": "Mythology",
    "heist": "Heist",
    "courtroom": "Courtroom",
    "revenge": "Revenge",
    "friendship": "Friendship",
    "road-trip": "Road trip",
    "period-piece": "Period piece",
    "space": "Space",
    "superhero": "Superhero",
    "stand-up": "Stand-up",
    "award-winning": "Award-winning",
    "binge-worthy": "Binge-worthy",
    "musical-numbers": "Musical numbers",
    "football": "Football",
    "anime": "Anime",
    "k-drama": "K-drama",
    "telenovela": "Telenovela",
    "zombies": "Zombies",
    "detective": "Detective",
}
# Tags that fit each genre (a title draws most of its tags from its genres).
GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "action": ("revenge", "heist", "superhero", "gangster", "strong-female-lead"),
    "thriller": ("twist-ending", "slow-burn", "dark", "revenge"),
    "romance": ("feel-good", "coming-of-age", "musical-numbers", "small-town"),
    "comedy": ("feel-good", "friendship", "road-trip", "stand-up"),
    "drama": ("family-saga", "slow-burn", "strong-female-lead", "based-on-true-story"),
    "crime": ("gangster", "heist", "detective", "courtroom", "dark"),
    "documentary": ("based-on-true-story", "award-winning", "cricket", "football"),
    "sports": ("cricket", "football", "based-on-true-story", "coming-of-age"),
    "animation": ("feel-good", "friendship", "superhero"),
    "family": ("feel-good", "family-saga", "friendship"),
    "horror": ("dark", "zombies", "twist-ending", "small-town"),
    "sci-fi": ("space", "superhero", "twist-ending", "dark"),
    "fantasy": ("mythology", "superhero", "coming-of-age"),
    "mystery": ("detective", "twist-ending", "slow-burn", "small-town"),
    "musical": ("musical-numbers", "feel-good", "coming-of-age"),
    "history": ("period-piece", "mythology", "based-on-true-story"),
}
LANGUAGE_TAGS: dict[str, tuple[str, ...]] = {
    "hi": ("cricket", "family-saga", "musical-numbers"),
    "ta": ("revenge", "gangster", "cricket"),
    "te": ("mythology", "revenge"),
    "ml": ("small-town", "slow-burn"),
    "ko": ("k-drama", "slow-burn"),
    "ja": ("anime",),
    "es": ("telenovela", "heist"),
    "pt": ("telenovela", "football"),
    "en": ("award-winning", "superhero"),
}

# What each artwork theme depicts; the renderer has one composition per theme.
ARTWORK_THEMES: dict[str, str] = {
    "action": "Action",
    "romance": "Romance",
    "lead-face": "Lead face",
    "ensemble": "Ensemble",
    "moody": "Moody",
    "comedy": "Comedy",
    "kids-friendly": "Kids-friendly",
}
THEME_SLUGS: tuple[str, ...] = tuple(ARTWORK_THEMES)

# Which themes designers would make for a title of each genre.
GENRE_THEMES: dict[str, tuple[str, ...]] = {
    "action": ("action", "moody", "lead-face", "ensemble"),
    "thriller": ("moody", "lead-face", "action"),
    "romance": ("romance", "lead-face", "ensemble"),
    "comedy": ("comedy", "ensemble", "lead-face"),
    "drama": ("lead-face", "moody", "ensemble", "romance"),
    "crime": ("moody", "action", "lead-face"),
    "documentary": ("moody", "lead-face", "ensemble"),
    "sports": ("action", "ensemble", "lead-face"),
    "animation": ("kids-friendly", "comedy", "ensemble", "action"),
    "family": ("ensemble", "comedy", "kids-friendly", "lead-face"),
    "horror": ("moody", "lead-face", "action"),
    "sci-fi": ("action", "moody", "ensemble"),
    "fantasy": ("action", "ensemble", "moody", "romance"),
    "mystery": ("moody", "lead-face"),
    "musical": ("romance", "ensemble", "comedy"),
    "history": ("ensemble", "action", "lead-face", "moody"),
}
# What a designer calls a frame of each theme.
THEME_LABELS: dict[str, tuple[str, ...]] = {
    "action": ("Rooftop chase", "Explosion", "Final showdown", "Bike stunt", "Fight scene"),
    "romance": ("Rain dance", "First meeting", "Sunset", "The proposal", "Stolen glance"),
    "lead-face": ("Close-up", "Lead portrait", "Eyes", "Hero shot", "Profile"),
    "ensemble": ("Cast line-up", "Family portrait", "The gang", "Group shot", "Wedding"),
    "moody": ("Night street", "Fog", "Silhouette", "Empty room", "Moonlight"),
    "comedy": ("Big laugh", "Mix-up", "Pratfall", "Reaction shot", "Party"),
    "kids-friendly": ("Bright day", "Playtime", "Adventure", "Cartoon pals", "Rainbow"),
}

# --- Hidden tastes: row types, hour buckets ---------------------------------------------

# Row types the homepage can show, as the row ranker knows them. A row id on a signal is
# the type, or "type:parameter" (``genre:horror``, ``trending:IN``, ``because_you_watched:42``).
ROW_TYPES: tuple[str, ...] = ENGINE_ROW_TYPES

# Local-time hour buckets: [start, end) hours, wrapping past midnight.
HOUR_BUCKETS: dict[str, tuple[int, int]] = {
    "morning": (5, 11),
    "afternoon": (11, 17),
    "evening": (17, 22),
    "late_night": (22, 5),
}
HOUR_BUCKET_NAMES: tuple[str, ...] = tuple(HOUR_BUCKETS)

DEVICES: tuple[str, ...] = ("tv", "mobile", "tablet", "web")

# --- Words for names -------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """One concept in every demo language: ``forms[lang] = (romanised, native)``."""

    en: str
    forms: dict[str, tuple[str, str]]
    mood: str  # dark, warm, epic, neutral: which genres reach for it
    hi_feminine: bool  # Hindi "ki" rather than "ka" after it


_WORD_COLUMNS = ("hi", "ta", "te", "ml", "ko", "ja", "es", "pt")


def _parse_words(table: str) -> tuple[Word, ...]:
    """Rows are ``English ; mood ; f(eminine in Hindi) or - ; roman=native per language``."""
    words = []
    for line in table.strip().splitlines():
        en, mood, gender, *cells = (cell.strip() for cell in line.split(";"))
        forms = {"en": (en, en)}
        for lang, cell in zip(_WORD_COLUMNS, cells, strict=True):
            roman, _, native = cell.partition("=")
            forms[lang] = (roman, native or roman)
        words.append(Word(en=en, forms=forms, mood=mood, hi_feminine=gender == "f"))
    return tuple(words)


# English ; mood ; Hindi gender ; hi ; ta ; te ; ml ; ko ; ja ; es ; pt
NOUNS: tuple[Word, ...] = _parse_words(
    """
Night ; dark ; f ; Raat=रात ; Iravu=இரவு ; Raatri=రాత్రి ; Raathri=രാത്രി ; Bam=밤 ; Yoru=夜 ; Noche ; Noite
Heart ; warm ; - ; Dil=दिल ; Idhayam=இதயம் ; Hrudayam=హృదయం ; Hridayam=ഹൃദയം ; Maeum=마음 ; Kokoro=心 ; Corazón ; Coração
Love ; warm ; - ; Pyaar=प्यार ; Kaadhal=காதல் ; Prema=ప్రేమ ; Pranayam=പ്രണയം ; Sarang=사랑 ; Ai=愛 ; Amor ; Amor
Fire ; epic ; f ; Aag=आग ; Neruppu=நெருப்பு ; Agni=అగ్ని ; Thee=തീ ; Bul=불 ; Hi=火 ; Fuego ; Fogo
King ; epic ; - ; Raja=राजा ; Raja=ராஜா ; Raju=రాజు ; Raajavu=രാജാവ് ; Wang=왕 ; Ō=王 ; Rey ; Rei
Queen ; epic ; f ; Rani=रानी ; Raani=ராணி ; Rani=రాణి ; Raani=റാണി ; Yeowang=여왕 ; Joō=女王 ; Reina ; Rainha
City ; neutral ; - ; Shehar=शहर ; Nagaram=நகரம் ; Nagaram=నగరం ; Nagaram=നഗരം ; Dosi=도시 ; Machi=街 ; Ciudad ; Cidade
Storm ; dark ; - ; Toofan=तूफ़ान ; Puyal=புயல் ; Thufanu=తుఫాను ; Kodumkaattu=കൊടുങ്കാറ്റ് ; Pokpung=폭풍 ; Arashi=嵐 ; Tormenta ; Tempestade
Shadow ; dark ; - ; Saaya=साया ; Nizhal=நிழல் ; Needa=నీడ ; Nizhal=നിഴൽ ; Geurimja=그림자 ; Kage=影 ; Sombra ; Sombra
Dream ; warm ; - ; Sapna=सपना ; Kanavu=கனவு ; Kala=కల ; Swapnam=സ്വപ്നം ; Kkum=꿈 ; Yume=夢 ; Sueño ; Sonho
Road ; neutral ; - ; Raasta=रास्ता ; Paadhai=பாதை ; Daari=దారి ; Vazhi=വഴി ; Gil=길 ; Michi=道 ; Camino ; Caminho
Home ; warm ; - ; Ghar=घर ; Veedu=வீடு ; Illu=ఇల్లు ; Veedu=വീട് ; Jip=집 ; Ie=家 ; Hogar ; Lar
Moon ; warm ; - ; Chaand=चाँद ; Nila=நிலா ; Chandamama=చందమామ ; Chandran=ചന്ദ്രൻ ; Dal=달 ; Tsuki=月 ; Luna ; Lua
War ; dark ; f ; Jung=जंग ; Por=போர் ; Yuddham=యుద్ధం ; Yudham=യുദ്ധം ; Jeonjaeng=전쟁 ; Sensō=戦争 ; Guerra ; Guerra
Secret ; dark ; - ; Raaz=राज़ ; Ragasiyam=ரகசியம் ; Rahasyam=రహస్యం ; Rahasyam=രഹസ്യം ; Bimil=비밀 ; Himitsu=秘密 ; Secreto ; Segredo
Game ; neutral ; - ; Khel=खेल ; Aattam=ஆட்டம் ; Aata=ఆట ; Kali=കളി ; Geim=게임 ; Gēmu=ゲーム ; Juego ; Jogo
Brother ; warm ; - ; Bhai=भाई ; Anna=அண்ணா ; Anna=అన్న ; Chettan=ചേട്ടൻ ; Hyeong=형 ; Ani=兄 ; Hermano ; Irmão
Sky ; neutral ; - ; Aasmaan=आसमान ; Vaanam=வானம் ; Aakasam=ఆకాశం ; Aakasham=ആകാശം ; Haneul=하늘 ; Sora=空 ; Cielo ; Céu
Song ; warm ; - ; Geet=गीत ; Paattu=பாட்டு ; Paata=పాట ; Paattu=പാട്ട് ; Norae=노래 ; Uta=歌 ; Canción ; Canção
River ; neutral ; f ; Nadi=नदी ; Nadhi=நதி ; Nadi=నది ; Puzha=പുഴ ; Gang=강 ; Kawa=川 ; Río ; Rio
Tiger ; epic ; - ; Baagh=बाघ ; Puli=புலி ; Puli=పులి ; Puli=പുലി ; Horangi=호랑이 ; Tora=虎 ; Tigre ; Tigre
Rain ; warm ; f ; Baarish=बारिश ; Mazhai=மழை ; Vaana=వాన ; Mazha=മഴ ; Bi=비 ; Ame=雨 ; Lluvia ; Chuva
Star ; warm ; - ; Sitara=सितारा ; Natchathiram=நட்சத்திரம் ; Nakshatram=నక్షత్రం ; Nakshathram=നക്ഷത്രം ; Byeol=별 ; Hoshi=星 ; Estrella ; Estrela
Blood ; dark ; - ; Khoon=ख़ून ; Ratham=ரத்தம் ; Raktham=రక్తం ; Raktham=രക്തം ; Pi=피 ; Chi=血 ; Sangre ; Sangue
Friend ; warm ; - ; Dost=दोस्त ; Nanban=நண்பன் ; Snehithudu=స్నేహితుడు ; Changathi=ചങ്ങാതി ; Chingu=친구 ; Tomo=友 ; Amigo ; Amigo
Journey ; neutral ; - ; Safar=सफ़र ; Payanam=பயணம் ; Prayanam=ప్రయాణం ; Yathra=യാത്ര ; Yeohaeng=여행 ; Tabi=旅 ; Viaje ; Viagem
Truth ; dark ; - ; Sach=सच ; Unmai=உண்மை ; Nijam=నిజం ; Sathyam=സത്യം ; Jinsil=진실 ; Shinjitsu=真実 ; Verdad ; Verdade
Village ; neutral ; - ; Gaon=गाँव ; Graamam=கிராமம் ; Palle=పల్లె ; Graamam=ഗ്രാമം ; Maeul=마을 ; Mura=村 ; Pueblo ; Aldeia
Sea ; neutral ; - ; Samundar=समंदर ; Kadal=கடல் ; Samudram=సముద్రం ; Kadal=കടൽ ; Bada=바다 ; Umi=海 ; Mar ; Mar
Promise ; warm ; - ; Vaada=वादा ; Sathiyam=சத்தியம் ; Maata=మాట ; Vaakku=വാക്ക് ; Yaksok=약속 ; Yakusoku=約束 ; Promesa ; Promessa
Hero ; epic ; - ; Nayak=नायक ; Veeran=வீரன் ; Veerudu=వీరుడు ; Veeran=വീരൻ ; Yeongung=영웅 ; Eiyū=英雄 ; Héroe ; Herói
Family ; warm ; - ; Parivaar=परिवार ; Kudumbam=குடும்பம் ; Kutumbam=కుటుంబం ; Kudumbam=കുടുംബം ; Gajok=가족 ; Kazoku=家族 ; Familia ; Família
Summer ; warm ; f ; Garmi=गर्मी ; Kodai=கோடை ; Vesavi=వేసవి ; Venal=വേനൽ ; Yeoreum=여름 ; Natsu=夏 ; Verano ; Verão
Mirror ; dark ; - ; Aaina=आईना ; Kannadi=கண்ணாடி ; Addam=అద్దం ; Kannadi=കണ്ണാടി ; Geoul=거울 ; Kagami=鏡 ; Espejo ; Espelho
Thief ; dark ; - ; Chor=चोर ; Thirudan=திருடன் ; Donga=దొంగ ; Kallan=കള്ളൻ ; Doduk=도둑 ; Dorobō=泥棒 ; Ladrón ; Ladrão
Ghost ; dark ; - ; Bhoot=भूत ; Pei=பேய் ; Deyyam=దెయ్యం ; Pretham=പ്രേതം ; Gwisin=귀신 ; Yūrei=幽霊 ; Fantasma ; Fantasma
Sun ; epic ; - ; Suraj=सूरज ; Sooriyan=சூரியன் ; Suryudu=సూర్యుడు ; Sooryan=സൂര്യൻ ; Hae=해 ; Taiyō=太陽 ; Sol ; Sol
Dance ; warm ; - ; Naach=नाच ; Nadanam=நடனம் ; Natyam=నాట్యం ; Nritham=നൃത്തം ; Chum=춤 ; Odori=踊り ; Baile ; Dança
Gold ; epic ; - ; Sona=सोना ; Thangam=தங்கம் ; Bangaram=బంగారం ; Ponnu=പൊന്ന് ; Geum=금 ; Kin=金 ; Oro ; Ouro
Mother ; warm ; f ; Maa=माँ ; Amma=அம்மா ; Amma=అమ్మ ; Amma=അമ്മ ; Eomma=엄마 ; Haha=母 ; Madre ; Mãe
Lion ; epic ; - ; Sher=शेर ; Singam=சிங்கம் ; Simham=సింహం ; Simham=സിംഹം ; Saja=사자 ; Shishi=獅子 ; León ; Leão
Wind ; neutral ; f ; Hawa=हवा ; Kaatru=காற்று ; Gaali=గాలి ; Kaattu=കാറ്റ് ; Baram=바람 ; Kaze=風 ; Viento ; Vento
"""
)

# Adjectives whose Spanish and Portuguese forms do not change with gender, so
# that "Corazón Salvaje" and "Noche Salvaje" are both right.
ADJECTIVES: tuple[Word, ...] = _parse_words(
    """
Wild ; epic ; - ; Jungli=जंगली ; Kaattu=காட்டு ; Adavi=అడవి ; Kaattu=കാട്ടു ; Yasaeng-ui=야생의 ; Yasei no=野生の ; Salvaje ; Selvagem
Last ; dark ; - ; Aakhri=आख़िरी ; Kadaisi=கடைசி ; Chivari=చివరి ; Avasaana=അവസാന ; Majimak=마지막 ; Saigo no=最後の ; Final ; Final
Blue ; neutral ; - ; Neela=नीला ; Neela=நீல ; Neeli=నీలి ; Neela=നീല ; Paran=파란 ; Aoi=青い ; Azul ; Azul
Crimson ; dark ; - ; Laal=लाल ; Sivappu=சிவப்பு ; Erra=ఎర్ర ; Chuvanna=ചുവന്ന ; Ppalgan=빨간 ; Akai=赤い ; Carmesí ; Carmesim
Brave ; epic ; - ; Bahadur=बहादुर ; Dheera=தீர ; Dheera=ధీర ; Dheera=ധീര ; Yonggamhan=용감한 ; Yūkan na=勇敢な ; Valiente ; Valente
Free ; warm ; - ; Azaad=आज़ाद ; Sudhandhira=சுதந்திர ; Swechha=స్వేచ్ఛా ; Swathanthra=സ്വതന്ത്ര ; Jayuroun=자유로운 ; Jiyū na=自由な ; Libre ; Livre
Sweet ; warm ; - ; Meetha=मीठा ; Inimaiyaana=இனிமையான ; Theeyani=తీయని ; Madhura=മധുര ; Dalkomhan=달콤한 ; Amai=甘い ; Dulce ; Doce
Young ; warm ; - ; Jawaan=जवान ; Ilam=இளம் ; Yuva=యువ ; Yuva=യുവ ; Jeolmeun=젊은 ; Wakai=若い ; Joven ; Jovem
Great ; epic ; - ; Bada=बड़ा ; Periya=பெரிய ; Pedda=పెద్ద ; Valiya=വലിയ ; Keun=큰 ; Ōkina=大きな ; Grande ; Grande
Rebel ; epic ; - ; Baaghi=बाग़ी ; Puratchi=புரட்சி ; Viplava=విప్లవ ; Viplava=വിപ്ലവ ; Banhang-ui=반항의 ; Hangyaku no=反逆の ; Rebelde ; Rebelde
Burning ; epic ; - ; Jalta=जलता ; Eriyum=எரியும் ; Mande=మండే ; Eriyunna=എരിയുന്ന ; Bultaneun=불타는 ; Moeru=燃える ; Ardiente ; Ardente
Happy ; warm ; - ; Khush=ख़ुश ; Santhosha=சந்தோஷ ; Santosha=సంతోష ; Santhosha=സന്തോഷ ; Haengbokhan=행복한 ; Shiawase na=幸せな ; Feliz ; Feliz
Impossible ; epic ; - ; Naamumkin=नामुमकिन ; Mudiyaadha=முடியாத ; Asaadhya=అసాధ్య ; Asaadhya=അസാധ്യ ; Bulganeunghan=불가능한 ; Fukanō na=不可能な ; Imposible ; Impossível
Invisible ; dark ; - ; Adrishya=अदृश्य ; Maraindha=மறைந்த ; Adrushya=అదృశ్య ; Adrishya=അദൃശ്യ ; Boiji Anneun=보이지 않는 ; Mienai=見えない ; Invisible ; Invisível
Fast ; epic ; - ; Tez=तेज़ ; Vega=வேக ; Vegam=వేగ ; Vega=വേഗ ; Ppareun=빠른 ; Hayai=速い ; Veloz ; Veloz
Sad ; dark ; - ; Udaas=उदास ; Soga=சோக ; Vishaada=విషాద ; Dukha=ദുഃഖ ; Seulpeun=슬픈 ; Kanashii=悲しい ; Triste ; Triste
"""
)

# Title shapes: "n" (one noun), "an" (adjective noun), "nm" (n of m).
TITLE_SHAPES: tuple[tuple[str, float], ...] = (("n", 0.2), ("an", 0.35), ("nm", 0.45))


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Names of people, by film industry (the language they mostly work in).
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "hi": _names(
        "Aarav Vikram Rohan Kabir Rahul Aditya Ishaan Karan Varun Sameer Priya Ananya Kavya Neha Pooja Riya Sana Meera Aisha Tara Nisha Zoya"
    ),
    "ta": _names(
        "Karthik Surya Vijay Arun Prabhu Senthil Murugan Bala Gautham Ashwin Lakshmi Divya Keerthi Nithya Meena Revathi Anitha Sowmya Kavitha Yamini"
    ),
    "te": _names(
        "Ravi Srinivas Venkat Mahesh Naveen Sai Chaitanya Kiran Prasanth Harsha Sravani Swathi Anjali Sirisha Deepthi Haritha Pallavi Bhavana"
    ),
    "ml": _names(
        "Anoop Biju Jithin Vineeth Sreenath Akhil Manu Rahul Nimisha Parvathy Aswathy Anjana Sreeja Gayathri Nikhila Reshma"
    ),
    "en": _names(
        "James Emma Oliver Sophia Liam Ava Noah Mia Ethan Grace Jack Chloe Henry Lily Samuel Ruby Owen Harper Leo Isla"
    ),
    "ko": _names(
        "Min-jun Seo-yeon Ji-ho Ha-eun Do-yun Ji-woo Seo-jun Su-bin Hyun-woo Yu-na Ji-hoon Soo-ah Tae-yang Eun-bi"
    ),
    "es": _names(
        "Mateo Sofía Diego Valentina Alejandro Camila Javier Lucía Carlos Isabel Andrés Elena Pablo Carmen"
    ),
    "ja": _names("Haruto Yui Sota Hina Ren Aoi Takumi Sakura Kenji Yuki Daiki Mio Riku Emi"),
    "pt": _names(
        "João Ana Pedro Beatriz Lucas Mariana Gabriel Juliana Rafael Fernanda Thiago Larissa Bruno Camila"
    ),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "hi": _names(
        "Sharma Verma Kapoor Khanna Malhotra Mehta Chopra Singh Gupta Joshi Bhatt Saxena Kohli Agarwal Mishra Sinha"
    ),
    "ta": _names(
        "Raman Subramanian Krishnan Iyer Murthy Rajan Natarajan Sundaram Venkatesan Selvam Pandian Shankar"
    ),
    "te": _names("Reddy Rao Naidu Chowdary Varma Raju Prasad Goud Sastry Kumar"),
    "ml": _names("Nair Menon Pillai Kurup Panicker Thomas Varghese Joseph Kurian Namboothiri"),
    "en": _names(
        "Smith Johnson Carter Hughes Walker Bennett Parker Reed Morgan Brooks Turner Hayes Fletcher Doyle"
    ),
    "ko": _names("Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Shin"),
    "es": _names(
        "García Martínez López Hernández González Pérez Sánchez Ramírez Torres Flores Navarro Ortega"
    ),
    "ja": _names(
        "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Mori Ishikawa"
    ),
    "pt": _names(
        "Silva Santos Oliveira Souza Costa Pereira Almeida Ferreira Rodrigues Lima Barbosa Ribeiro"
    ),
}
