# ruff: noqa: E501  (phrase tables read best one phrase per line)
"""The demo titles' one-line synopses: one story per title, told in every synopsis language.

A title's story is drawn once, from the seed: who (a protagonist), where (a
place that suits the title's original language) and what happens (a conflict
that suits its first genre). Each language then tells that same story from
its own phrase tables, so a profile that switches its display language reads
the same plot, not another one drawn for that language. Title names work the
same way (``vocabulary.NOUNS``: one concept, every language).

Verbs agree with the protagonist: a phrase marks the words that change with
``{singular|plural}`` (English, Spanish, Portuguese), or with four options in
the language's own agreements: in Hindi
``{masculine singular|feminine singular|masculine plural|feminine plural}``,
in Tamil and Telugu ``{masculine|feminine|neuter|plural}`` (a gang of friends
and a baby elephant are "it" there, but feminine and masculine in Hindi).
Shorthands cover each language's commonest verb form: ``{ता}`` for Hindi's
habitual present (``लड़{ता}`` is लड़ता है, लड़ती है, लड़ते हैं or लड़ती हैं),
``{ான்}`` for Tamil's present (``மோதுகிற{ான்}`` is மோதுகிறான், மோதுகிறாள்,
மோதுகிறது or மோதுகிறார்கள்) and ``{తాడు}`` for Telugu's (``పోరాడు{తాడు}`` is
పోరాడుతాడు, పోరాడుతుంది or పోరాడుతారు). Malayalam, Korean and Japanese verbs
do not agree; Korean and Japanese subjects carry their particle (이/가, が)
and Japanese is written without spaces. Every phrase is rendered in each
agreement once, at import, so a synopsis costs three lookups and one join.

Synopses exist in every language the demo names titles in, so a profile
reads its display language's synopsis wherever the title has that
localisation; where it has none, the title page falls back to the original
synopsis (``catalog.selectors.title_detail_get``).
"""

import random
import re
from dataclasses import dataclass
from itertools import product

from .vocabulary import GENRES, LANGUAGE_CODES

# The tables' column order. New languages go at the end: the draws pick rows, never columns,
# so a new column leaves every other language's synopses as they were.
SYNOPSIS_LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "hi", "ta", "te", "ml", "ko", "ja")
_FULL_STOP = {"hi": "।", "ja": "。"}  # everything else ends with "."
_WORD_GAP = {"ja": ""}  # between who, where and what; everything else: " "


def _table(text: str) -> list[list[str]]:
    """Rows of ``cell ; cell ; ...`` lines."""
    return [[cell.strip() for cell in line.split(";")] for line in text.strip().splitlines()]


# Protagonists: audience ("adult" stars only in titles for grown-ups, "kids" only in kids
# titles) ; singular or plural ; the Hindi phrase's gender ; its gender in Tamil and Telugu
# (m, f or n; "-" for plurals, which have one form) ; then one phrase per synopsis language
_PROTAGONISTS = _table(
    """
adult ; singular ; m ; m ; A retired cop ; Un policía retirado ; Um policial aposentado ; एक रिटायर्ड पुलिसवाला ; ஓய்வுபெற்ற போலீஸ்காரன் ஒருவன் ; ఒక రిటైర్డ్ పోలీసు అధికారి ; വിരമിച്ച ഒരു പോലീസുകാരൻ ; 은퇴한 경찰이 ; 引退した警官が
adult ; plural ; f ; - ; Two estranged sisters ; Dos hermanas distanciadas ; Duas irmãs afastadas ; दो बिछड़ी हुई बहनें ; மனக்கசப்பால் பிரிந்த இரு சகோதரிகள் ; దూరమైన ఇద్దరు అక్కాచెల్లెళ్లు ; അകന്നുകഴിയുന്ന രണ്ട് സഹോദരിമാർ ; 사이가 멀어진 두 자매가 ; 疎遠になった二人の姉妹が
adult ; singular ; m ; m ; A young athlete ; Un joven atleta ; Um jovem atleta ; एक युवा खिलाड़ी ; ஓர் இளம் விளையாட்டு வீரன் ; ఒక యువ క్రీడాకారుడు ; ഒരു യുവ കായികതാരം ; 젊은 운동선수가 ; 若きアスリートが
adult ; singular ; f ; f ; A shy schoolteacher ; Una maestra tímida ; Uma professora tímida ; एक शर्मीली टीचर ; கூச்ச சுபாவமுள்ள ஒரு பள்ளி ஆசிரியை ; బిడియస్తురాలైన ఒక స్కూల్ టీచర్ ; നാണംകുണുങ്ങിയായ ഒരു സ്കൂൾ ടീച്ചർ ; 수줍음 많은 학교 선생님이 ; 内気な女性教師が
adult ; singular ; m ; m ; A reluctant heir ; Un heredero reacio ; Um herdeiro relutante ; एक अनिच्छुक वारिस ; தயக்கம் கொண்ட வாரிசு ஒருவன் ; బాధ్యత ఇష్టం లేని ఒక వారసుడు ; താൽപ്പര്യമില്ലാത്ത ഒരു അനന്തരാവകാശി ; 물려받기 싫은 후계자가 ; 気の進まない跡継ぎが
adult ; singular ; f ; f ; An ambitious journalist ; Una periodista ambiciosa ; Uma jornalista ambiciosa ; एक महत्वाकांक्षी पत्रकार ; லட்சியம் மிக்க நிருபர் ஒருத்தி ; ఉన్నత ఆశయాలున్న ఒక జర్నలిస్టు ; ഉയരങ്ങൾ സ്വപ്നം കാണുന്ന ഒരു പത്രപ്രവർത്തക ; 야심 찬 기자가 ; 野心的な女性記者が
adult ; singular ; m ; m ; A widowed taxi driver ; Un taxista viudo ; Um taxista viúvo ; एक विधुर टैक्सी ड्राइवर ; மனைவியை இழந்த டாக்ஸி டிரைவர் ஒருவன் ; భార్యను కోల్పోయిన ఒక టాక్సీ డ్రైవర్ ; ഭാര്യ മരിച്ച ഒരു ടാക്സി ഡ്രൈവർ ; 아내를 잃은 택시 기사가 ; 妻を亡くしたタクシー運転手が
adult ; singular ; f ; f ; A single mother ; Una madre soltera ; Uma mãe solteira ; एक अकेली माँ ; தனியாகக் குழந்தையை வளர்க்கும் ஒரு தாய் ; ఒక ఒంటరి తల్లి ; കുഞ്ഞിനെ ഒറ്റയ്ക്ക് വളർത്തുന്ന ഒരമ്മ ; 홀로 아이를 키우는 엄마가 ; シングルマザーが
adult ; plural ; m ; - ; Two rival brothers ; Dos hermanos rivales ; Dois irmãos rivais ; दो प्रतिद्वंद्वी भाई ; ஒருவரையொருவர் எதிர்க்கும் இரு சகோதரர்கள் ; పోటీపడే ఇద్దరు అన్నదమ్ములు ; പരസ്പരം മത്സരിക്കുന്ന രണ്ട് സഹോദരന്മാർ ; 라이벌인 두 형제가 ; 張り合う二人の兄弟が
all ; singular ; f ; n ; A gang of friends ; Una pandilla de amigos ; Uma turma de amigos ; दोस्तों की एक टोली ; ஒரு நண்பர் பட்டாளம் ; ఒక స్నేహితుల బృందం ; ഒരു കൂട്ടം സുഹൃത്തുക്കൾ ; 한 무리의 친구들이 ; 仲良しグループが
kids ; singular ; f ; f ; A curious little girl ; Una niña curiosa ; Uma menina curiosa ; एक जिज्ञासु नन्ही लड़की ; ஆர்வம் நிறைந்த ஒரு சிறுமி ; కుతూహలం నిండిన ఒక చిన్నారి ; ജിജ്ഞാസയുള്ള ഒരു കൊച്ചുപെൺകുട്ടി ; 호기심 많은 소녀가 ; 好奇心いっぱいの女の子が
kids ; singular ; m ; n ; A clumsy baby elephant ; Un elefantito torpe ; Um elefantinho desajeitado ; एक अनाड़ी नन्हा हाथी ; தத்தித் தடுமாறும் ஒரு யானைக்குட்டி ; తడబడే ఒక గున్న ఏనుగు ; തട്ടിത്തടഞ്ഞു നടക്കുന്ന ഒരു കുട്ടിയാന ; 덜렁대는 아기 코끼리가 ; ドジな子ゾウが
kids ; plural ; m ; - ; Two mischievous twins ; Dos gemelos traviesos ; Dois gêmeos travessos ; दो नटखट जुड़वाँ भाई ; குறும்புக்கார இரட்டைச் சகோதரர்கள் ; ఇద్దరు అల్లరి కవల సోదరులు ; കുസൃതിക്കാരായ ഇരട്ട സഹോദരന്മാർ ; 장난꾸러기 쌍둥이 형제가 ; いたずら好きの双子の兄弟が
"""
)

# Places: original languages whose stories are set there ("-": any) ; then one phrase per
# synopsis language, each as a sentence needs it ("no Rio de Janeiro", "मुंबई में", "釜山で")
_PLACES = _table(
    """
hi ; in Mumbai ; en Bombay ; em Mumbai ; मुंबई में ; மும்பையில் ; ముంబైలో ; മുംബൈയിൽ ; 뭄바이에서 ; ムンバイで
hi ; in Delhi ; en Delhi ; em Délhi ; दिल्ली में ; டெல்லியில் ; ఢిల్లీలో ; ഡൽഹിയിൽ ; 델리에서 ; デリーで
hi ; in Varanasi ; en Varanasi ; em Varanasi ; बनारस में ; வாரணாசியில் ; వారణాసిలో ; വാരാണസിയിൽ ; 바라나시에서 ; バラナシで
ta ; in Chennai ; en Chennai ; em Chennai ; चेन्नई में ; சென்னையில் ; చెన్నైలో ; ചെന്നൈയിൽ ; 첸나이에서 ; チェンナイで
ta ; in Madurai ; en Madurai ; em Madurai ; मदुरै में ; மதுரையில் ; మదురైలో ; മധുരയിൽ ; 마두라이에서 ; マドゥライで
te ; in Hyderabad ; en Hyderabad ; em Hyderabad ; हैदराबाद में ; ஹைதராபாத்தில் ; హైదరాబాదులో ; ഹൈദരാബാദിൽ ; 하이데라바드에서 ; ハイデラバードで
te ; in Visakhapatnam ; en Visakhapatnam ; em Visakhapatnam ; विशाखापत्तनम में ; விசாகப்பட்டினத்தில் ; విశాఖపట్నంలో ; വിശാഖപട്ടണത്ത് ; 비사카파트남에서 ; ヴィシャーカパトナムで
ml ; in Kochi ; en Kochi ; em Kochi ; कोच्चि में ; கொச்சியில் ; కొచ్చిలో ; കൊച്ചിയിൽ ; 케랄라주 코치에서 ; ケーララ州のコーチで
hi ta te ml ; in a hill station ; en un pueblo de montaña ; numa cidade serrana ; एक हिल स्टेशन पर ; ஒரு மலைவாசஸ்தலத்தில் ; ఒక హిల్ స్టేషనులో ; ഒരു മലയോര പട്ടണത്തിൽ ; 어느 산간 휴양지에서 ; 山あいの避暑地で
en ; in London ; en Londres ; em Londres ; लंदन में ; லண்டனில் ; లండనులో ; ലണ്ടനിൽ ; 런던에서 ; ロンドンで
en es ; in New York ; en Nueva York ; em Nova York ; न्यूयॉर्क में ; நியூயார்க்கில் ; న్యూయార్కులో ; ന്യൂയോർക്കിൽ ; 뉴욕에서 ; ニューヨークで
ko ; in Seoul ; en Seúl ; em Seul ; सियोल में ; சியோலில் ; సియోలులో ; സോളിൽ ; 서울에서 ; ソウルで
ko ; in Busan ; en Busan ; em Busan ; बुसान में ; பூசானில் ; బూసానులో ; ബുസാനിൽ ; 부산에서 ; 釜山で
ja ; in Tokyo ; en Tokio ; em Tóquio ; टोक्यो में ; டோக்கியோவில் ; టోక్యోలో ; ടോക്കിയോയിൽ ; 도쿄에서 ; 東京で
ja ; in Osaka ; en Osaka ; em Osaka ; ओसाका में ; ஒசாகாவில் ; ఒసాకాలో ; ഒസാക്കയിൽ ; 오사카에서 ; 大阪で
es ; in Madrid ; en Madrid ; em Madri ; मैड्रिड में ; மாட்ரிட்டில் ; మాడ్రిడులో ; മാഡ്രിഡിൽ ; 마드리드에서 ; マドリードで
es ; in Mexico City ; en Ciudad de México ; na Cidade do México ; मेक्सिको सिटी में ; மெக்சிகோ நகரில் ; మెక్సికో సిటీలో ; മെക്സിക്കോ സിറ്റിയിൽ ; 멕시코시티에서 ; メキシコシティで
pt ; in São Paulo ; en São Paulo ; em São Paulo ; साओ पाउलो में ; சாவோ பாலோவில் ; సావో పాలోలో ; സാവോ പോളോയിൽ ; 상파울루에서 ; サンパウロで
pt ; in Rio de Janeiro ; en Río de Janeiro ; no Rio de Janeiro ; रियो डी जनेरियो में ; ரியோ டி ஜெனிரோவில் ; రియో డి జనీరోలో ; റിയോ ഡി ജനീറോയിൽ ; 리우데자네이루에서 ; リオデジャネイロで
pt ; in Lisbon ; en Lisboa ; em Lisboa ; लिस्बन में ; லிஸ்பனில் ; లిస్బనులో ; ലിസ്ബണിൽ ; 리스본에서 ; リスボンで
- ; in a quiet village ; en un pueblo tranquilo ; numa vila tranquila ; एक शांत गाँव में ; ஓர் அமைதியான கிராமத்தில் ; ఒక ప్రశాంతమైన పల్లెలో ; ശാന്തമായ ഒരു ഗ്രാമത്തിൽ ; 조용한 시골 마을에서 ; 静かな村で
- ; in a coastal town ; en un pueblo costero ; numa cidade litorânea ; समंदर किनारे के एक कस्बे में ; ஒரு கடலோர நகரத்தில் ; ఒక తీరప్రాంత పట్టణంలో ; ഒരു തീരദേശ പട്ടണത്തിൽ ; 어느 해안 마을에서 ; 海辺の町で
"""
)

# What happens: genre ; then one phrase per synopsis language, verbs marked as above
_CONFLICTS = _table(
    """
action ; take{s|} on a crime lord to save the city ; se enfrenta{|n} a un capo para salvar la ciudad ; enfrenta{|m} um chefão do crime para salvar a cidade ; शहर को बचाने के लिए एक माफ़िया सरगना से भिड़{ता} ; நகரைக் காப்பாற்ற ஒரு தாதாவுடன் மோதுகிற{ான்} ; నగరాన్ని కాపాడటానికి ఒక మాఫియా నాయకుడితో తలపడ{తాడు} ; നഗരത്തെ രക്ഷിക്കാൻ ഒരു അധോലോക നായകനെ നേരിടുന്നു ; 도시를 구하기 위해 범죄 조직의 두목에게 맞선다 ; 街を救うため、犯罪組織のボスに立ち向かう
action ; must stop a heist before dawn ; debe{|n} impedir un atraco antes del amanecer ; precisa{|m} impedir um assalto antes do amanhecer ; सुबह होने से पहले एक डकैती रोकने निकल{ता} ; விடிவதற்குள் ஒரு கொள்ளையைத் தடுத்தாக வேண்டும் ; తెల్లవారేలోగా ఒక దోపిడీని అడ్డుకోవాలి ; നേരം പുലരും മുമ്പ് ഒരു കവർച്ച തടയേണ്ടിവരുന്നു ; 동이 트기 전에 강도 사건을 막아야 한다 ; 夜明けまでに強盗を阻止しなければならない
thriller ; uncover{s|} a conspiracy that reaches the top ; destapa{|n} una conspiración que llega hasta la cúpula ; descobre{|m} uma conspiração que chega ao topo ; एक ऐसी साज़िश का पर्दाफ़ाश कर{ता} जो ऊपर तक जाती है ; உயர்மட்டம் வரை நீளும் ஒரு சதியை அம்பலப்படுத்துகிற{ான்} ; అత్యున్నత స్థాయి వరకు పాకిన ఒక కుట్రను బయటపెడ{తాడు} ; ഉന്നതങ്ങളിലേക്ക് നീളുന്ന ഒരു ഗൂഢാലോചന പുറത്തുകൊണ്ടുവരുന്നു ; 권력의 정점까지 닿은 음모를 파헤친다 ; 権力の頂点にまで及ぶ陰謀を暴く
thriller ; {is|are} hunted after witnessing a murder ; se convierte{|n} en presa tras presenciar un asesinato ; vira{|m} alvo depois de testemunhar um assassinato ; एक क़त्ल देखने के बाद शिकार बन जा{ता} ; ஒரு கொலையை நேரில் பார்த்த பிறகு வேட்டையாடப்படுகிற{ான்} ; ఒక హత్యను కళ్లారా చూశాక హంతకుల వేటకు గురవు{తాడు} ; ഒരു കൊലപാതകത്തിന് സാക്ഷിയായ ശേഷം വേട്ടയാടപ്പെടുന്നു ; 살인을 목격한 뒤 쫓기는 신세가 된다 ; 殺人を目撃したことで命を狙われる
romance ; fall{s|} for a sworn rival ; se enamora{|n} de un rival declarado ; se apaixona{|m} por um rival declarado ; एक कट्टर प्रतिद्वंद्वी से प्यार कर बैठ{ता} ; பரம எதிரி ஒருவர் மீது காதல் கொள்கிற{ான்} ; ఒక బద్ధ ప్రత్యర్థితో ప్రేమలో పడ{తాడు} ; കടുത്ത എതിരാളിയുമായി പ്രണയത്തിലാകുന്നു ; 앙숙인 라이벌과 사랑에 빠진다 ; 宿敵と恋に落ちる
romance ; find{s|} love during a monsoon wedding ; encuentra{|n} el amor en una boda en pleno monzón ; encontra{|m} o amor num casamento em plena monção ; बरसात में एक शादी के दौरान प्यार पा{ता} ; மழைக்காலத் திருமணம் ஒன்றில் காதலைக் கண்டடைகிற{ான்} ; వర్షాకాలంలో జరిగే ఒక పెళ్లిలో ప్రేమను కనుగొం{టాడు|టుంది|టుంది|టారు} ; മഴക്കാലത്തെ ഒരു കല്യാണത്തിനിടെ പ്രണയം കണ്ടെത്തുന്നു ; 장마철 결혼식에서 사랑을 찾는다 ; 雨季の結婚式で恋に出会う
comedy ; fake{s|} an engagement and lose{s|} control of the lie ; finge{|n} un compromiso y pierde{|n} el control de la mentira ; finge{|m} um noivado e perde{|m} o controle da mentira ; सगाई का नाटक कर{ता} और झूठ हाथ से निकल जाता है ; நிச்சயதார்த்தம் ஆனதாக நாடகமாடி, அந்தப் பொய்யில் சிக்கித் தவிக்கிற{ான்} ; నిశ్చితార్థం అయినట్టు నాటకమాడి ఆ అబద్ధంలో చిక్కుకుపో{తాడు} ; വിവാഹനിശ്ചയം കഴിഞ്ഞതായി അഭിനയിക്കുന്നു, പക്ഷേ ആ നുണ കൈവിട്ടുപോകുന്നു ; 가짜 약혼을 꾸미지만 거짓말은 걷잡을 수 없이 커진다 ; 婚約を偽装するが、嘘はどんどん手に負えなくなる
comedy ; inherit{s|} a failing restaurant ; hereda{|n} un restaurante en ruinas ; herda{|m} um restaurante falido ; विरासत में एक डूबता हुआ रेस्टोरेंट पा{ता} ; நஷ்டத்தில் ஓடும் ஓர் உணவகத்தை வாரிசுரிமையாகப் பெறுகிற{ான்} ; నష్టాల్లో నడుస్తున్న ఒక రెస్టారెంటును వారసత్వంగా పొందు{తాడు} ; നഷ്ടത്തിലോടുന്ന ഒരു റെസ്റ്റോറന്റിന്റെ അവകാശിയാകുന്നു ; 망해 가는 식당을 물려받는다 ; 潰れかけのレストランを相続する
drama ; return{s|} home to face an old family wound ; vuelve{|n} a casa para enfrentar una vieja herida familiar ; volta{|m} para casa para encarar uma velha ferida de família ; एक पुराने पारिवारिक ज़ख़्म का सामना करने घर लौट{ता} ; பழைய குடும்பக் காயத்தை எதிர்கொள்ள வீடு திரும்புகிற{ான்} ; పాత కుటుంబ గాయాన్ని ఎదుర్కోవడానికి ఇంటికి తిరిగి వస్{తాడు} ; കുടുംബത്തിലെ പഴയൊരു മുറിവിനെ നേരിടാൻ വീട്ടിലേക്കു മടങ്ങുന്നു ; 오래된 가족의 상처와 마주하러 고향으로 돌아온다 ; 家族の古い傷と向き合うため故郷へ帰る
drama ; fight{s|} to keep the family land ; lucha{|n} por conservar las tierras de la familia ; luta{|m} para manter as terras da família ; परिवार की ज़मीन बचाने के लिए लड़{ता} ; குடும்ப நிலத்தைக் காப்பாற்றப் போராடுகிற{ான்} ; కుటుంబ భూమిని కాపాడుకోవడానికి పోరాడు{తాడు} ; കുടുംബഭൂമി നിലനിർത്താൻ പോരാടുന്നു ; 가문의 땅을 지키기 위해 싸운다 ; 先祖代々の土地を守るために闘う
crime ; rise{s|} through the ranks of a ruthless gang ; asciende{|n} en una banda despiadada ; sobe{|m} na hierarquia de uma gangue implacável ; एक बेरहम गिरोह में ऊपर तक पहुँच{ता} ; இரக்கமற்ற ஒரு கும்பலில் படிப்படியாக உயர்கிற{ான்} ; ఒక కిరాతక ముఠాలో అంచెలంచెలుగా ఎదుగు{తాడు} ; ക്രൂരമായ ഒരു ഗുണ്ടാസംഘത്തിൽ പടിപടിയായി ഉയരുന്നു ; 무자비한 조직에서 출세 가도를 달린다 ; 冷酷なギャング団でのし上がっていく
crime ; reopen{s|} a case everyone wants closed ; reabre{|n} un caso que todos dan por cerrado ; reabre{|m} um caso que todos dão por encerrado ; एक ऐसा केस फिर से खोल{ता} जिसे सब बंद रखना चाहते हैं ; எல்லோரும் மூடிவிட நினைக்கும் ஒரு வழக்கை மீண்டும் திறக்கிற{ான்} ; అందరూ మూసేయాలనుకునే ఒక కేసును మళ్లీ తెరుస్{తాడు} ; എല്ലാവരും അടച്ചുപൂട്ടാൻ ആഗ്രഹിക്കുന്ന ഒരു കേസ് വീണ്ടും തുറക്കുന്നു ; 모두가 덮어 두고 싶어 하는 사건의 재수사에 나선다 ; 誰もが葬り去りたい事件を再び調べ始める
documentary ; tell{s|} the untold story behind a famous victory ; cuenta{|n} la historia nunca contada de una victoria famosa ; conta{|m} a história nunca contada de uma vitória famosa ; एक मशहूर जीत के पीछे की अनकही कहानी सुना{ता} ; ஒரு புகழ்பெற்ற வெற்றியின் பின்னால் இருக்கும் சொல்லப்படாத கதையைச் சொல்கிற{ான்} ; ఒక ప్రసిద్ధ విజయం వెనుక ఎవరూ చెప్పని కథను చెబు{తాడు} ; പ്രശസ്തമായ ഒരു വിജയത്തിനു പിന്നിലെ പറയാത്ത കഥ പറയുന്നു ; 유명한 승리 뒤에 숨은 이야기를 들려준다 ; 名高い勝利の裏に隠された物語を語る
documentary ; live{s|} through a season of hope and heartbreak ; vive{|n} una temporada de esperanza y desengaño ; vive{|m} uma temporada de esperança e desilusão ; उम्मीद और टूटे दिलों से भरा एक सीज़न जी{ता} ; நம்பிக்கையும் மனமுடைவும் நிறைந்த ஒரு பருவத்தைக் கடந்து வருகிற{ான்} ; ఒక సీజనంతా ఆశలు, నిరాశల మధ్య గడుపు{తాడు} ; പ്രതീക്ഷയും ഹൃദയവേദനയും നിറഞ്ഞ ഒരു സീസണിലൂടെ കടന്നുപോകുന്നു ; 희망과 좌절이 교차하는 한 시즌을 보낸다 ; 希望と挫折が交錯するシーズンを生き抜く
sports ; train{s|} a team of misfits for the final ; entrena{|n} a un equipo de inadaptados para la final ; treina{|m} um time de desajustados para a final ; फ़ाइनल के लिए बेमेल खिलाड़ियों की एक टीम तैयार कर{ता} ; ஒருவருக்கொருவர் பொருந்தாத வீரர்களைக் கொண்ட ஓர் அணியை இறுதிப் போட்டிக்குத் தயார் செய்கிற{ான்} ; ఫైనల్ కోసం ఒకరికొకరు పొసగని ఆటగాళ్ల జట్టును తయారు చేస్{తాడు} ; ഫൈനലിനായി ആർക്കും വേണ്ടാത്തവരുടെ ഒരു ടീമിനെ ഒരുക്കുന്നു ; 오합지졸 팀을 이끌고 결승을 준비한다 ; はみ出し者ばかりのチームを決勝に向けて鍛え上げる
sports ; get{s|} one last shot at the championship ; tiene{|n} una última oportunidad de ganar el campeonato ; ganha{|m} uma última chance de disputar o campeonato ; चैंपियनशिप जीतने का आख़िरी मौक़ा पा{ता} ; சாம்பியன் பட்டத்தை வெல்ல ஒரு கடைசி வாய்ப்பைப் பெறுகிற{ான்} ; ఛాంపియన్ టైటిల్ గెలిచేందుకు చివరి అవకాశం అందుకుం{టాడు|టుంది|టుంది|టారు} ; ചാമ്പ്യൻഷിപ്പിനായി അവസാനമായി ഒരിക്കൽക്കൂടി പോരാട്ടത്തിനിറങ്ങുന്നു ; 챔피언십에 도전할 마지막 기회를 얻는다 ; 選手権に挑む最後のチャンスをつかむ
animation ; set{s|} off on a magical quest with a talking tiger ; emprende{|n} una aventura mágica con un tigre que habla ; parte{|m} numa jornada mágica com um tigre falante ; एक बोलने वाले बाघ के साथ जादुई सफ़र पर निकल{ता} ; பேசும் புலி ஒன்றுடன் மாயாஜாலப் பயணம் கிளம்புகிற{ான்} ; మాట్లాడే పులితో కలిసి ఒక మాయా ప్రయాణానికి బయలుదేరు{తాడు} ; സംസാരിക്കുന്ന ഒരു കടുവയോടൊപ്പം മാന്ത്രികയാത്രയ്ക്ക് പുറപ്പെടുന്നു ; 말하는 호랑이와 함께 마법 같은 모험을 떠난다 ; しゃべるトラと一緒に魔法の旅に出る
animation ; build{s|} a rocket to reach the moon ; construye{|n} un cohete para llegar a la luna ; {constrói|constroem} um foguete para chegar à lua ; चाँद तक पहुँचने के लिए एक रॉकेट बना{ता} ; நிலவை அடைய ஒரு ராக்கெட்டை உருவாக்குகிற{ான்} ; చందమామను చేరుకోవడానికి ఒక రాకెట్టు తయారు చేస్{తాడు} ; ചന്ദ്രനിലെത്താൻ ഒരു റോക്കറ്റ് നിർമ്മിക്കുന്നു ; 달에 가기 위해 로켓을 만든다 ; 月へ行くためにロケットを作る
family ; keep{s|} a noisy household together over one summer ; mantiene{|n} unida a una familia ruidosa durante un verano ; {mantém|mantêm} unida uma família barulhenta durante um verão ; पूरी गर्मी एक शोरगुल भरे घर को सँभाल{ता} ; ஒரு கோடைக்காலம் முழுவதும் கலகலப்பான ஒரு குடும்பத்தைக் கட்டிக் காக்கிற{ான்} ; ఒక వేసవంతా సందడి నిండిన ఇంటిని ఒక్కతాటిపై నిలుపు{తాడు} ; ഒരു വേനൽക്കാലം മുഴുവൻ ബഹളമയമായ ഒരു വീടിനെ ഒരുമിച്ചു നിർത്തുന്നു ; 한여름 내내 시끌벅적한 집안을 꾸려 간다 ; ひと夏のあいだ、にぎやかな一家をまとめ上げる
family ; plan{s|} a surprise for grandma ; prepara{|n} una sorpresa para la abuela ; prepara{|m} uma surpresa para a avó ; दादी के लिए एक सरप्राइज़ की तैयारी कर{ता} ; பாட்டிக்காக ஓர் இன்ப அதிர்ச்சியைத் திட்டமிடுகிற{ான்} ; బామ్మకు ఒక ఆశ్చర్యకరమైన కానుక సిద్ధం చేస్{తాడు} ; മുത്തശ്ശിക്കായി ഒരു സർപ്രൈസ് ഒരുക്കുന്നു ; 할머니를 위해 깜짝 이벤트를 준비한다 ; おばあちゃんのためにサプライズを計画する
horror ; move{s|} into a house with a terrible past ; se muda{|n} a una casa con un pasado terrible ; se muda{|m} para uma casa com um passado terrível ; एक भयानक अतीत वाले घर में रहने आ{ता} ; பயங்கரமான கடந்த காலம் கொண்ட ஒரு வீட்டில் குடியேறுகிற{ான்} ; భయంకరమైన గతం ఉన్న ఒక ఇంటికి మకాం మారుస్{తాడు} ; ഭീകരമായ ഒരു ഭൂതകാലമുള്ള വീട്ടിലേക്ക് താമസം മാറുന്നു ; 끔찍한 과거를 지닌 집으로 이사한다 ; 恐ろしい過去を持つ家に引っ越してくる
horror ; hear{s|} voices in the old mill ; oye{|n} voces en el viejo molino ; ouve{|m} vozes no velho moinho ; पुरानी चक्की में आवाज़ें सुन{ता} ; பழைய அரவை ஆலையில் குரல்களைக் கேட்கிற{ான்} ; పాత పిండిమరలో ఏవో గొంతులు {వింటాడు|వింటుంది|వింటుంది|వింటారు} ; പഴയ മില്ലിൽ ആരുടെയോ ശബ്ദങ്ങൾ കേൾക്കുന്നു ; 낡은 방앗간에서 정체 모를 목소리를 듣는다 ; 古い水車小屋で謎の声を聞く
sci-fi ; wake{s|} up on a ship drifting between stars ; despierta{|n} en una nave a la deriva entre las estrellas ; acorda{|m} numa nave à deriva entre as estrelas ; तारों के बीच भटकते एक यान पर जाग{ता} ; நட்சத்திரங்களுக்கு இடையே அலையும் ஒரு விண்கலத்தில் கண்விழிக்கிற{ான்} ; నక్షత్రాల మధ్య దారితప్పి తిరుగుతున్న ఒక అంతరిక్ష నౌకలో మేల్కొం{టాడు|టుంది|టుంది|టారు} ; നക്ഷത്രങ്ങൾക്കിടയിൽ ഒഴുകിനടക്കുന്ന ഒരു ബഹിരാകാശ കപ്പലിൽ ഉണരുന്നു ; 별들 사이를 표류하는 우주선에서 눈을 뜬다 ; 星々の間を漂う宇宙船で目を覚ます
sci-fi ; receive{s|} messages from the future ; recibe{|n} mensajes del futuro ; recebe{|m} mensagens do futuro ; भविष्य से संदेश पा{ता} ; எதிர்காலத்திலிருந்து செய்திகளைப் பெறுகிற{ான்} ; భవిష్యత్తు నుంచి సందేశాలు అందుకుం{టాడు|టుంది|టుంది|టారు} ; ഭാവിയിൽനിന്നുള്ള സന്ദേശങ്ങൾ കൈപ്പറ്റുന്നു ; 미래에서 온 메시지를 받는다 ; 未来からのメッセージを受け取る
fantasy ; discover{s|} a hidden kingdom beneath the river ; descubre{|n} un reino oculto bajo el río ; descobre{|m} um reino escondido sob o rio ; नदी के नीचे छिपा एक राज्य खोज निकाल{ता} ; நதிக்கு அடியில் மறைந்திருக்கும் ஒரு ராஜ்ஜியத்தைக் கண்டுபிடிக்கிற{ான்} ; నది అడుగున దాగిన ఒక రాజ్యాన్ని కనిపెడ{తాడు} ; നദിക്കടിയിൽ മറഞ്ഞിരിക്കുന്ന ഒരു രാജ്യം കണ്ടെത്തുന്നു ; 강 밑에 숨겨진 왕국을 발견한다 ; 川の底に隠された王国を見つける
fantasy ; pull{s|} an ancient sword from the stone ; arranca{|n} una espada antigua de la piedra ; arranca{|m} uma espada antiga da pedra ; पत्थर में धँसी एक प्राचीन तलवार खींच निकाल{ता} ; பாறையில் புதைந்திருக்கும் ஒரு பழங்கால வாளை உருவி எடுக்கிற{ான்} ; రాతిలో దిగబడిన ఒక ప్రాచీన ఖడ్గాన్ని బయటకు లాగు{తాడు} ; പാറയിൽ തറച്ചിരിക്കുന്ന ഒരു പുരാതന വാൾ വലിച്ചൂരുന്നു ; 바위에 박힌 고대의 검을 뽑아낸다 ; 岩に刺さった古の剣を引き抜く
mystery ; investigate{s|} a disappearance no one will talk about ; investiga{|n} una desaparición de la que nadie quiere hablar ; investiga{|m} um desaparecimento sobre o qual ninguém quer falar ; एक ऐसी गुमशुदगी की जाँच कर{ता} जिसके बारे में कोई बात नहीं करता ; யாரும் பேச விரும்பாத ஒரு காணாமல்போன வழக்கை விசாரிக்கிற{ான்} ; ఎవరూ నోరు విప్పని ఒక అదృశ్యం కేసును దర్యాప్తు చేస్{తాడు} ; ആരും മിണ്ടാൻ തയ്യാറാകാത്ത ഒരു തിരോധാനം അന്വേഷിക്കുന്നു ; 아무도 입을 열지 않는 실종 사건을 조사한다 ; 誰も口を開こうとしない失踪事件を調べる
mystery ; decode{s|} letters left by a stranger ; descifra{|n} las cartas que dejó un desconocido ; decifra{|m} cartas deixadas por um desconhecido ; एक अजनबी की छोड़ी चिट्ठियों का राज़ खोल{ता} ; ஓர் அந்நியர் விட்டுச்சென்ற கடிதங்களின் மர்மத்தை அவிழ்க்கிற{ான்} ; ఒక అపరిచితుడు వదిలి వెళ్లిన లేఖల గుట్టు విప్పు{తాడు} ; ഒരു അപരിചിതൻ ഉപേക്ഷിച്ചുപോയ കത്തുകളുടെ ചുരുളഴിക്കുന്നു ; 낯선 이가 남긴 편지들을 해독한다 ; 見知らぬ人が残した手紙を解読する
musical ; chase{s|} a dream of singing on the big stage ; persigue{|n} el sueño de cantar en un gran escenario ; persegue{|m} o sonho de cantar num grande palco ; बड़े मंच पर गाने का सपना पूरा करने निकल{ता} ; பெரிய மேடையில் பாடும் கனவைத் துரத்துகிற{ான்} ; పెద్ద వేదికపై పాడాలనే కలను వెంటాడు{తాడు} ; വലിയ വേദിയിൽ പാടണമെന്ന സ്വപ്നത്തിനു പിന്നാലെ പായുന്നു ; 큰 무대에서 노래하겠다는 꿈을 좇는다 ; 大舞台で歌う夢を追いかける
musical ; form{s|} a band against all odds ; forma{|n} una banda contra todo pronóstico ; forma{|m} uma banda contra todas as probabilidades ; तमाम मुश्किलों के बावजूद एक बैंड बना{ता} ; எல்லாத் தடைகளையும் மீறி ஓர் இசைக்குழுவை உருவாக்குகிற{ான்} ; ఎన్ని అడ్డంకులు ఎదురైనా ఒక బ్యాండు ఏర్పాటు చేస్{తాడు} ; എല്ലാ പ്രതിബന്ധങ്ങളെയും മറികടന്ന് ഒരു ബാൻഡ് രൂപീകരിക്കുന്നു ; 온갖 역경을 딛고 밴드를 결성한다 ; あらゆる困難を乗り越えてバンドを結成する
history ; lead{s|} a rebellion against an empire ; encabeza{|n} una rebelión contra un imperio ; lidera{|m} uma rebelião contra um império ; एक साम्राज्य के ख़िलाफ़ बग़ावत की अगुवाई कर{ता} ; ஒரு பேரரசுக்கு எதிரான கிளர்ச்சிக்குத் தலைமை தாங்குகிற{ான்} ; ఒక సామ్రాజ్యంపై తిరుగుబాటుకు నాయకత్వం వహిస్{తాడు} ; ഒരു സാമ്രാജ്യത്തിനെതിരായ കലാപത്തിന് നേതൃത്വം നൽകുന്നു ; 제국에 맞선 반란을 이끈다 ; 帝国に対する反乱を率いる
history ; guard{s|} a fort through a long siege ; defiende{|n} un fuerte durante un largo asedio ; defende{|m} um forte durante um longo cerco ; एक लंबी घेराबंदी में क़िले की रक्षा कर{ता} ; நீண்ட முற்றுகையின்போது ஒரு கோட்டையைக் காக்கிற{ான்} ; సుదీర్ఘ ముట్టడిలో ఒక కోటను కాపాడు{తాడు} ; നീണ്ട ഉപരോധത്തിനിടയിലും ഒരു കോട്ട കാത്തുസൂക്ഷിക്കുന്നു ; 기나긴 포위 속에서 요새를 지켜 낸다 ; 長い包囲戦の中で砦を守り抜く
"""
)


_SHORTHANDS = {
    "hi": ("{ता}", "{ता है|ती है|ते हैं|ती हैं}"),
    "ta": ("{ான்}", "{ான்|ாள்|து|ார்கள்}"),
    "te": ("{తాడు}", "{తాడు|తుంది|తుంది|తారు}"),
}
_MARK = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Agreement:
    """What a verb can agree with: number, and gender as Hindi and as Tamil and Telugu see it."""

    plural: bool
    hindi_feminine: bool
    dravidian_gender: str  # "m", "f" or "n"; "m" for plurals, which have one form

    def option(self, language: str) -> int:
        """Which of a four-option mark this subject takes in ``language``."""
        if language == "hi":
            return 2 * self.plural + self.hindi_feminine
        if language in ("ta", "te"):
            return 3 if self.plural else "mfn".index(self.dravidian_gender)
        raise ValueError(f"{language!r} verbs do not agree in gender")


AGREEMENTS: tuple[Agreement, ...] = tuple(
    Agreement(plural, feminine, gender)
    for plural, feminine, gender in product((False, True), (False, True), "mfn")
    if not (plural and gender != "m")
)


def _agreements(phrase: str, language: str) -> tuple[str, ...]:
    """The phrase with a subject of each of :data:`AGREEMENTS`, in that order."""
    if language in _SHORTHANDS:
        phrase = phrase.replace(*_SHORTHANDS[language])

    def agreeing(agreement: Agreement) -> str:
        def pick(mark: re.Match[str]) -> str:
            options = mark.group(1).split("|")
            if len(options) == 2:  # singular | plural
                return options[agreement.plural]
            if len(options) == 4:
                return options[agreement.option(language)]
            raise ValueError(f"a mark needs 2 or 4 options: {mark.group(0)!r} in {phrase!r}")

        return _MARK.sub(pick, phrase)

    return tuple(agreeing(agreement) for agreement in AGREEMENTS)


@dataclass(frozen=True)
class Protagonist:
    """Who a story is about, named in every synopsis language."""

    forms: dict[str, str]
    agreement: int  # index into AGREEMENTS, and so into a conflict's forms
    audience: str  # "adult", "kids" or "all"


@dataclass(frozen=True)
class Place:
    """Where a story happens, as a locative phrase in every synopsis language."""

    forms: dict[str, str]
    languages: tuple[str, ...]  # original languages set here; () for any


@dataclass(frozen=True)
class Conflict:
    """What happens: in every synopsis language, in each of :data:`AGREEMENTS`."""

    forms: dict[str, tuple[str, ...]]


PROTAGONISTS: tuple[Protagonist, ...] = tuple(
    Protagonist(
        forms=dict(zip(SYNOPSIS_LANGUAGES, phrases, strict=True)),
        agreement=AGREEMENTS.index(
            Agreement(
                plural=number == "plural",
                hindi_feminine=hindi_gender == "f",
                dravidian_gender="m" if number == "plural" else dravidian_gender,
            )
        ),
        audience=audience,
    )
    for audience, number, hindi_gender, dravidian_gender, *phrases in _PROTAGONISTS
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
                code: _agreements(phrase, code)
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
        who = self.protagonist.forms[language]
        what = self.conflict.forms[language][self.protagonist.agreement]
        gap = _WORD_GAP.get(language, " ")
        return f"{who}{gap}{self.place.forms[language]}{gap}{what}{_FULL_STOP.get(language, '.')}"


def story_draw(rnd: random.Random, *, language: str, genre: str, kids: bool) -> Story:
    """A story for a title of this original language, first genre and audience."""
    return Story(
        protagonist=rnd.choice(_CAST[kids]),
        place=rnd.choice(_SETTINGS[language]),
        conflict=rnd.choice(CONFLICTS[genre]),
    )
