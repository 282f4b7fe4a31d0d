"""Hand-written test posts (Russian and English), modelled on real channel and agency styles.

The corpus (``../shared/corpus/telegram-news-classifier``) is used where present; these texts keep
the suite meaningful without it. Names and figures are invented.
"""

# --- one article, as an RSS 2.0 feed and an Atom feed publish it --------------------------------

ARTICLE_PARAGRAPHS = [
    "Правительство утвердило программу ремонта пригородных электричек на 2025–2027 годы.",
    "Как сообщил «Интерфаксу» источник в Минтрансе, на обновление подвижного состава выделят "
    "48,5 млрд рублей, а первые 120 вагонов получат Московская и Ленинградская области.",
    "Перевозчики должны представить планы до 1 марта; ремонт начнётся весной.",
]

RSS_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Лента</title><link>https://news.example.ru/</link>
<item>
  <title>Правительство утвердило программу ремонта электричек</title>
  <link>https://news.example.ru/economy/2024/10/12/elektrichki.html</link>
  <guid>https://news.example.ru/economy/2024/10/12/elektrichki.html</guid>
  <description>&lt;p&gt;Правительство утвердило программу ремонта пригородных электричек на
  2025&amp;ndash;2027 годы.&lt;/p&gt;&lt;p&gt;Как сообщил &amp;laquo;Интерфаксу&amp;raquo; источник
  в&amp;nbsp;Минтрансе, на обновление подвижного состава выделят 48,5&amp;nbsp;млрд рублей, а первые
  120 вагонов получат Московская и Ленинградская области.&lt;/p&gt;&lt;p&gt;Перевозчики должны
  представить планы до 1 марта; ремонт начн&amp;#1105;тся весной.&lt;/p&gt;</description>
</item></channel></rss>
"""

ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Лента</title><id>urn:lenta</id>
<updated>2024-10-12T09:00:00Z</updated>
<entry>
  <title>Правительство утвердило программу ремонта электричек</title>
  <id>urn:news:elektrichki</id><updated>2024-10-12T09:00:00Z</updated>
  <link href="https://news.example.ru/economy/2024/10/12/elektrichki.html?utm_source=atom"/>
  <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
    <p><strong>Правительство</strong> утвердило программу ремонта пригородных электричек
    на 2025–2027 годы.</p>
    <p>Как сообщил «Интерфаксу» источник в Минтрансе, на обновление подвижного состава выделят
    48,5 млрд рублей, а первые 120 вагонов получат <a href="https://example.ru/mo">Московская</a>
    и Ленинградская области.</p>
    <p>Перевозчики должны представить планы до 1 марта; ремонт начнётся весной.</p>
  </div></content>
</entry></feed>
"""

# --- a Telegram post, and its repost with an emoji prefix and the reposter's footer ------------

ORIGINAL_POST = (
    "В Белгороде после атаки беспилотников повреждены две многоэтажки и линия электропередачи, "
    "сообщил губернатор региона. Пострадали три человека, их госпитализировали с осколочными "
    "ранениями. Без света остались около 4 тысяч жителей Харьковской горы; аварийные бригады уже "
    "работают на месте, подачу электричества обещают восстановить к вечеру. Занятия в школах "
    "Белгородского района во вторник пройдут дистанционно."
)

REPOST_FOOTER = "👉 Подписаться на канал | Прислать новость @belnews_bot"

REPOST = (
    "⚡️🔴 **В Белгороде** после атаки беспилотников повреждены две многоэтажки и линия "
    "электропередачи, сообщил губернатор региона.\n\nПострадали три человека, их госпитализировали "
    "с осколочными ранениями. Без света остались около 4 тысяч жителей Харьковской горы; аварийные "
    "бригады уже работают на месте, подачу электричества обещают восстановить к вечеру. Занятия в "
    "школах Белгородского района во вторник пройдут дистанционно.\n\n"
    "#Белгород #новости\n\n" + REPOST_FOOTER
)

# The same repost, with a few words changed by an editor (a near-duplicate, not an exact one).
EDITED_REPOST = (
    "⚡️ В Белгороде после атаки БПЛА повреждены два многоквартирных дома и линия "
    "электропередачи, сообщил губернатор области. Пострадали три человека, их госпитализировали "
    "с осколочными ранениями. Без света остались около 4 тысяч жителей Харьковской горы; аварийные "
    "бригады уже работают на месте, электричество обещают восстановить к вечеру. Занятия в "
    "школах Белгородского района во вторник пройдут дистанционно.\n\n" + REPOST_FOOTER
)

# --- two different reports written from one template: they must stay apart --------------------

SUMMARY_OCT_12 = (
    "Сводка за 12 октября: за минувшую ночь дежурными средствами ПВО перехвачены и уничтожены "
    "30 украинских беспилотных летательных аппаратов самолётного типа: 14 — над территорией "
    "Белгородской области, 9 — над территорией Курской области, 7 — над территорией Брянской "
    "области. В Белгородской области повреждены линия электропередачи и частный дом в посёлке "
    "Разумное, пострадавших нет."
)

SUMMARY_OCT_13 = (
    "Сводка за 13 октября: за минувшую ночь дежурными средствами ПВО перехвачены и уничтожены "
    "17 украинских беспилотных летательных аппаратов самолётного типа: 11 — над территорией "
    "Воронежской области, 4 — над акваторией Азовского моря, 2 — над территорией Ростовской "
    "области. В Воронеже обломками повреждены крыша склада и три автомобиля, ранен водитель."
)

# The agency's bare template: only the figures and regions differ (worst case for MinHash).
BARE_TEMPLATE_A = (
    "Дежурными средствами ПВО перехвачены и уничтожены 30 украинских беспилотных летательных "
    "аппаратов самолётного типа: 14 — над территорией Белгородской области, 9 — над территорией "
    "Курской области, 7 — над территорией Брянской области."
)

BARE_TEMPLATE_B = (
    "Дежурными средствами ПВО перехвачены и уничтожены 17 украинских беспилотных летательных "
    "аппаратов самолётного типа: 11 — над территорией Воронежской области, 4 — над территорией "
    "Ростовской области, 2 — над территорией Липецкой области."
)

EN_REPORT_A = (
    "Markets wrap, October 12: The S&P 500 rose 0.6% to a record close, led by chipmakers after "
    "TSMC raised its revenue forecast. Oil fell 2% as Saudi Arabia signalled higher output, and "
    "the dollar weakened against the yen ahead of Tuesday's retail sales data."
)

EN_REPORT_B = (
    "Markets wrap, October 13: The S&P 500 fell 1.1% from its record, dragged by banks after "
    "JPMorgan warned on loan losses. Gold rose 1% as investors sought safety, and the euro "
    "gained against the dollar ahead of Thursday's ECB rate decision."
)

# --- a channel's recent posts, each ending with its signature footer ---------------------------

RIA_FOOTER = "Подписаться на канал | @rian_ru"

RIA_POSTS = [
    "Путин провёл телефонный разговор с президентом Казахстана, сообщили в Кремле.\n\n" + RIA_FOOTER,
    "ЦБ сохранил ключевую ставку на уровне 19%.\n\n" + RIA_FOOTER,
    "⚡️В Москве ожидается до 20 мм осадков за сутки, предупредили синоптики.\n\n" + RIA_FOOTER,
    "Сборная России по хоккею обыграла Белоруссию со счётом 4:1 🏒\n\n" + RIA_FOOTER,
    "Минздрав напомнил о сезонной вакцинации от гриппа. https://ria.ru/20241012/vaktsina.html\n"
    + RIA_FOOTER,
    "Фото",  # a post without the footer: footers are shared by most posts, not all
    "Курс доллара на бирже опустился ниже 96 рублей впервые с сентября.\n\n" + RIA_FOOTER,
]
