# ruff: noqa: E501  (phrase tables read best one phrase per line)
"""The demo titles' one-line synopses: one story per title, told in every synopsis language.

A title's story is drawn once, from the seed: who (a protagonist), where (a
place that suits the title's original language) and what happens (a conflict
that suits its first genre). Each language then tells that same story from
its own phrase tables, so a profile that switches its display language reads
the same plot, not another one drawn for that language. Title names work the
same way (``vocabulary.NOUNS``: one concept, every language).

Verbs agree with the protagonist: a phrase marks the words that change with
``{singular|plural}`` (English, Spanish, Portuguese), or, in Hindi, with
``{masculine singular|feminine singular|masculine plural|feminine plural}``;
``{ता}`` is short for Hindi's habitual present, the commonest of those
(``लड़{ता}`` is लड़ता है, लड़ती है, लड़ते हैं or लड़ती हैं). Every phrase is
rendered in each of its four agreements once, at import, so a synopsis costs
three lookups and one join.

Synopses exist in English, Spanish, Portuguese and Hindi; a title's other
localisations have none and fall back to its original synopsis, as they would
for a partner feed that ships only some translations.
"""

import random
import re
from dataclasses import dataclass

from .vocabulary import GENRES, LANGUAGE_CODES

SYNOPSIS_LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "hi")
_FULL_STOP = {"hi": "।"}  # everything else ends with "."


def _table(text: str) -> list[list[str]]:
    """Rows of ``cell ; cell ; ...`` lines."""
    return [[cell.strip() for cell in line.split(";")] for line in text.strip().splitlines()]


# Protagonists: audience ("adult" stars only in titles for grown-ups, "kids" only in kids
# titles) ; singular or plural ; the Hindi phrase's gender ; English ; Spanish ; Portuguese ; Hindi
_PROTAGONISTS = _table(
    """
adult ; singular ; m ; A retired cop ; Un policía retirado ; Um policial aposentado ; एक रिटायर्ड पुलिसवाला
adult ; plural ; f ; Two estranged sisters ; Dos hermanas distanciadas ; Duas irmãs afastadas ; दो बिछड़ी हुई बहनें
adult ; singular ; m ; A young athlete ; Un joven atleta ; Um jovem atleta ; एक युवा खिलाड़ी
adult ; singular ; f ; A shy schoolteacher ; Una maestra tímida ; Uma professora tímida ; एक शर्मीली टीचर
adult ; singular ; m ; A reluctant heir ; Un heredero reacio ; Um herdeiro relutante ; एक अनिच्छुक वारिस
adult ; singular ; f ; An ambitious journalist ; Una periodista ambiciosa ; Uma jornalista ambiciosa ; एक महत्वाकांक्षी पत्रकार
adult ; singular ; m ; A widowed taxi driver ; Un taxista viudo ; Um taxista viúvo ; एक विधुर टैक्सी ड्राइवर
adult ; singular ; f ; A single mother ; Una madre soltera ; Uma mãe solteira ; एक अकेली माँ
adult ; plural ; m ; Two rival brothers ; Dos hermanos rivales ; Dois irmãos rivais ; दो प्रतिद्वंद्वी भाई
all ; singular ; f ; A gang of friends ; Una pandilla de amigos ; Uma turma de amigos ; दोस्तों की एक टोली
kids ; singular ; f ; A curious little girl ; Una niña curiosa ; Uma menina curiosa ; एक जिज्ञासु नन्ही लड़की
kids ; singular ; m ; A clumsy baby elephant ; Un elefantito torpe ; Um elefantinho desajeitado ; एक अनाड़ी नन्हा हाथी
kids ; plural ; m ; Two mischievous twins ; Dos gemelos traviesos ; Dois gêmeos travessos ; दो नटखट जुड़वाँ भाई
"""
)

# Places: original languages whose stories are set there ("-": any) ; English ; Spanish ;
# Portuguese ; Hindi, each as a sentence needs it ("no Rio de Janeiro", "मुंबई में")
_PLACES = _table(
    """
hi ; in Mumbai ; en Bombay ; em Mumbai ; मुंबई में
hi ; in Delhi ; en Delhi ; em Délhi ; दिल्ली में
hi ; in Varanasi ; en Varanasi ; em Varanasi ; बनारस में
ta ; in Chennai ; en Chennai ; em Chennai ; चेन्नई में
ta ; in Madurai ; en Madurai ; em Madurai ; मदुरै में
te ; in Hyderabad ; en Hyderabad ; em Hyderabad ; हैदराबाद में
te ; in Visakhapatnam ; en Visakhapatnam ; em Visakhapatnam ; विशाखापत्तनम में
ml ; in Kochi ; en Kochi ; em Kochi ; कोच्चि में
hi ta te ml ; in a hill station ; en un pueblo de montaña ; numa cidade serrana ; एक हिल स्टेशन पर
en ; in London ; en Londres ; em Londres ; लंदन में
en es ; in New York ; en Nueva York ; em Nova York ; न्यूयॉर्क में
ko ; in Seoul ; en Seúl ; em Seul ; सियोल में
ko ; in Busan ; en Busan ; em Busan ; बुसान में
ja ; in Tokyo ; en Tokio ; em Tóquio ; टोक्यो में
ja ; in Osaka ; en Osaka ; em Osaka ; ओसाका में
es ; in Madrid ; en Madrid ; em Madri ; मैड्रिड में
es ; in Mexico City ; en Ciudad de México ; na Cidade do México ; मेक्सिको सिटी में
pt ; in São Paulo ; en São Paulo ; em São Paulo ; साओ पाउलो में
pt ; in Rio de Janeiro ; en Río de Janeiro ; no Rio de Janeiro ; रियो डी जनेरियो में
pt ; in Lisbon ; en Lisboa ; em Lisboa ; लिस्बन में
- ; in a quiet village ; en un pueblo tranquilo ; numa vila tranquila ; एक शांत गाँव में
- ; in a coastal town ; en un pueblo costero ; numa cidade litorânea ; समंदर किनारे के एक कस्बे में
"""
)

# What happens: genre ; English ; Spanish ; Portuguese ; Hindi, verbs marked as above
_CONFLICTS = _table(
    """
action ; take{s|} on a crime lord to save the city ; se enfrenta{|n} a un capo para salvar la ciudad ; enfrenta{|m} um chefão do crime para salvar a cidade ; शहर को बचाने के लिए एक माफ़िया सरगना से भिड़{ता}
action ; must stop a heist before dawn ; debe{|n} impedir un atraco antes del amanecer ; precisa{|m} impedir um assalto antes do amanhecer ; सुबह होने से पहले एक डकैती रोकने निकल{ता}
thriller ; uncover{s|} a conspiracy that reaches the top ; destapa{|n} una conspiración que llega hasta la cúpula ; descobre{|m} uma conspiração que chega ao topo ; एक ऐसी साज़िश का पर्दाफ़ाश कर{ता} जो ऊपर तक जाती है
thriller ; {is|are} hunted after witnessing a murder ; se convierte{|n} en presa tras presenciar un asesinato ; vira{|m} alvo depois de testemunhar um assassinato ; एक क़त्ल देखने के बाद शिकार बन जा{ता}
romance ; fall{s|} for a sworn rival ; se enamora{|n} de un rival declarado ; se apaixona{|m} por um rival declarado ; एक कट्टर प्रतिद्वंद्वी से प्यार कर बैठ{ता}
romance ; find{s|} love during a monsoon wedding ; encuentra{|n} el amor en una boda en pleno monzón ; encontra{|m} o amor num casamento em plena monção ; बरसात में एक शादी के दौरान प्यार पा{ता}
comedy ; fake{s|} an engagement and lose{s|} control of the lie ; finge{|n} un compromiso y pierde{|n} el control de la mentira ; finge{|m} um noivado e perde{|m} o controle da mentira ; सगाई का नाटक कर{ता} और झूठ हाथ से निकल जाता है
comedy ; inherit{s|} a failing restaurant ; hereda{|n} un restaurante en ruinas ; herda{|m} um restaurante falido ; विरासत में एक डूबता हुआ रेस्टोरेंट पा{ता}
drama ; return{s|} home to face an old family wound ; vuelve{|n} a casa para enfrentar una vieja herida familiar ; volta{|m} para casa para encarar uma velha ferida de família ; एक पुराने पारिवारिक ज़ख़्म का सामना करने घर लौट{ता}
drama ; fight{s|} to keep the family land ; lucha{|n} por conservar las tierras de la familia ; luta{|m} para manter as terras da família ; परिवार की ज़मीन बचाने के लिए लड़{ता}
crime ; rise{s|} through the ranks of a ruthless gang ; asciende{|n} en una banda despiadada ; sobe{|m} na hierarquia de uma gangue implacável ; एक बेरहम गिरोह में ऊपर तक पहुँच{ता}
crime ; reopen{s|} a case everyone wants closed ; reabre{|n} un caso que todos dan por cerrado ; reabre{|m} um caso que todos dão por encerrado ; एक ऐसा केस फिर से खोल{ता} जिसे सब बंद रखना चाहते हैं
documentary ; tell{s|} the untold story behind a famous victory ; cuenta{|n} la historia nunca contada de una victoria famosa ; conta{|m} a história nunca contada de uma vitória famosa ; एक मशहूर जीत के पीछे की अनकही कहानी सुना{ता}
documentary ; live{s|} through a season of hope and heartbreak ; vive{|n} una temporada de esperanza y desengaño ; vive{|m} uma temporada de esperança e desilusão ; उम्मीद और टूटे दिलों से भरा एक सीज़न जी{ता}
sports ; train{s|} a team of misfits for the final ; entrena{|n} a un equipo de inadaptados para la final ; treina{|m} um time de desajustados para a final ; फ़ाइनल के लिए बेमेल खिलाड़ियों की एक टीम तैयार कर{ता}
sports ; get{s|} one last shot at the championship ; tiene{|n} una última oportunidad de ganar el campeonato ; ganha{|m} uma última chance de disputar o campeonato ; चैंपियनशिप जीतने का आख़िरी मौक़ा पा{ता}
animation ; set{s|} off on a magical quest with a talking tiger ; emprende{|n} una aventura mágica con un tigre que habla ; parte{|m} numa jornada mágica com um tigre falante ; एक बोलने वाले बाघ के साथ जादुई सफ़र पर निकल{ता}
animation ; build{s|} a rocket to reach the moon ; construye{|n} un cohete para llegar a la luna ; {constrói|constroem} um foguete para chegar à lua ; चाँद तक पहुँचने के लिए एक रॉकेट बना{ता}
family ; keep{s|} a noisy household together over one summer ; mantiene{|n} unida a una familia ruidosa durante un verano ; {mantém|mantêm} unida uma família barulhenta durante um verão ; पूरी गर्मी एक शोरगुल भरे घर को सँभाल{ता}
family ; plan{s|} a surprise for grandma ; prepara{|n} una sorpresa para la abuela ; prepara{|m} uma surpresa para a avó ; दादी के लिए एक सरप्राइज़ की तैयारी कर{ता}
horror ; move{s|} into a house with a terrible past ; se muda{|n} a una casa con un pasado terrible ; se muda{|m} para uma casa com um passado terrível ; एक भयानक अतीत वाले घर में रहने आ{ता}
horror ; hear{s|} voices in the old mill ; oye{|n} voces en el viejo molino ; ouve{|m} vozes no velho moinho ; पुरानी चक्की में आवाज़ें सुन{ता}
sci-fi ; wake{s|} up on a ship drifting between stars ; despierta{|n} en una nave a la deriva entre las estrellas ; acorda{|m} numa nave à deriva entre as estrelas ; तारों के बीच भटकते एक यान पर जाग{ता}
sci-fi ; receive{s|} messages from the future ; recibe{|n} mensajes del futuro ; recebe{|m} mensagens do futuro ; भविष्य से संदेश पा{ता}
fantasy ; discover{s|} a hidden kingdom beneath the river ; descubre{|n} un reino oculto bajo el río ; descobre{|m} um reino escondido sob o rio ; नदी के नीचे छिपा एक राज्य खोज निकाल{ता}
fantasy ; pull{s|} an ancient sword from the stone ; arranca{|n} una espada antigua de la piedra ; arranca{|m} uma espada antiga da pedra ; पत्थर में धँसी एक प्राचीन तलवार खींच निकाल{ता}
mystery ; investigate{s|} a disappearance no one will talk about ; investiga{|n} una desaparición de la que nadie quiere hablar ; investiga{|m} um desaparecimento sobre o qual ninguém quer falar ; एक ऐसी गुमशुदगी की जाँच कर{ता} जिसके बारे में कोई बात नहीं करता
mystery ; decode{s|} letters left by a stranger ; descifra{|n} las cartas que dejó un desconocido ; decifra{|m} cartas deixadas por um desconhecido ; एक अजनबी की छोड़ी चिट्ठियों का राज़ खोल{ता}
musical ; chase{s|} a dream of singing on the big stage ; persigue{|n} el sueño de cantar en un gran escenario ; persegue{|m} o sonho de cantar num grande palco ; बड़े मंच पर गाने का सपना पूरा करने निकल{ता}
musical ; form{s|} a band against all odds ; forma{|n} una banda contra todo pronóstico ; forma{|m} uma banda contra todas as probabilidades ; तमाम मुश्किलों के बावजूद एक बैंड बना{ता}
history ; lead{s|} a rebellion against an empire ; encabeza{|n} una rebelión contra un imperio ; lidera{|m} uma rebelião contra um império ; एक साम्राज्य के ख़िलाफ़ बग़ावत की अगुवाई कर{ता}
history ; guard{s|} a fort through a long siege ; defiende{|n} un fuerte durante un largo asedio ; defende{|m} um forte durante um longo cerco ; एक लंबी घेराबंदी में क़िले की रक्षा कर{ता}
"""
)


_HINDI_HABITUAL = "{ता है|ती है|ते हैं|ती हैं}"
_MARK = re.compile(r"\{([^{}]*)\}")


def _agreements(phrase: str) -> tuple[str, str, str, str]:
    """The phrase with a subject of each agreement: (m. sg., f. sg., m. pl., f. pl.)."""
    phrase = phrase.replace("{ता}", _HINDI_HABITUAL)

    def agreeing(agreement: int) -> str:
        def pick(mark: re.Match[str]) -> str:
            options = mark.group(1).split("|")
            if len(options) == 2:  # singular | plural
                return options[agreement // 2]
            if len(options) == 4:
                return options[agreement]
            raise ValueError(f"a mark needs 2 or 4 options: {mark.group(0)!r} in {phrase!r}")

        return _MARK.sub(pick, phrase)

    return (agreeing(0), agreeing(1), agreeing(2), agreeing(3))


@dataclass(frozen=True)
class Protagonist:
    """Who a story is about, named in every synopsis language."""

    forms: dict[str, str]
    agreement: int  # index into a phrase's agreements: 2 * plural + feminine (in Hindi)
    audience: str  # "adult", "kids" or "all"


@dataclass(frozen=True)
class Place:
    """Where a story happens, as a locative phrase in every synopsis language."""

    forms: dict[str, str]
    languages: tuple[str, ...]  # original languages set here; () for any


@dataclass(frozen=True)
class Conflict:
    """What happens: in every synopsis language, in each of the four agreements."""

    forms: dict[str, tuple[str, str, str, str]]


PROTAGONISTS: tuple[Protagonist, ...] = tuple(
    Protagonist(
        forms=dict(zip(SYNOPSIS_LANGUAGES, phrases, strict=True)),
        agreement=2 * (number == "plural") + (gender == "f"),
        audience=audience,
    )
    for audience, number, gender, *phrases in _PROTAGONISTS
)
PLACES: tuple[Place, ...] = tuple(
    Place(
        forms=dict(zip(SYNOPSIS_LANGUAGES, phrases, strict=True)),
        languages=tuple(languages.split()) if languages != "-" else (),
    )
    for languages, *phrases in _PLACES
)
CONFLICTS: dict[str, tuple[Conflict, ...]] = {
    genre: tuple(
        Conflict(
            forms={
                code: _agreements(phrase)
                for code, phrase in zip(SYNOPSIS_LANGUAGES, phrases, strict=True)
            }
        )
        for conflict_genre, *phrases in _CONFLICTS
        if conflict_genre == genre
    )
    for genre in GENRES
}
_CAST = {
    False: tuple(p for p in PROTAGONISTS if p.audience != "kids"),
    True: tuple(p for p in PROTAGONISTS if p.audience != "adult"),
}


# Where a title of each original language may be set: its own places and the anywhere ones.
_SETTINGS: dict[str, tuple[Place, ...]] = {
    code: tuple(p for p in PLACES if not p.languages or code in p.languages)
    for code in LANGUAGE_CODES
}


@dataclass(frozen=True)
class Story:
    """One title's plot: told in every synopsis language, the same in each."""

    protagonist: Protagonist
    place: Place
    conflict: Conflict

    def synopsis(self, language: str) -> str:
        """The one-line synopsis in ``language`` (one of :data:`SYNOPSIS_LANGUAGES`)."""
        what = self.conflict.forms[language][self.protagonist.agreement]
        stop = _FULL_STOP.get(language, ".")
        return f"{self.protagonist.forms[language]} {self.place.forms[language]} {what}{stop}"


def story_draw(rnd: random.Random, *, language: str, genre: str, kids: bool) -> Story:
    """A story for a title of this original language, first genre and audience."""
    return Story(
        protagonist=rnd.choice(_CAST[kids]),
        place=rnd.choice(_SETTINGS[language]),
        conflict=rnd.choice(CONFLICTS[genre]),
    )
