namespace SecureChat.Bench.Search;

/// <summary>
/// One language of the synthetic corpus: its common words, most frequent first, and the letters
/// from which a long tail of rarer made-up words is built (real vocabularies are mostly tail).
/// </summary>
/// <param name="Name">A short tag for reports.</param>
/// <param name="CommonWords">Real words, most frequent first; they take the top Zipf ranks.</param>
/// <param name="Onsets">Syllable onsets of made-up words.</param>
/// <param name="Vowels">Syllable nuclei, accented ones included.</param>
/// <param name="Codas">Syllable codas ("" for an open syllable).</param>
/// <param name="TailSize">How many made-up words follow the common ones.</param>
public sealed record ChatLanguage(string Name, string[] CommonWords, string[] Onsets, string[] Vowels, string[] Codas, int TailSize)
{
    private static readonly string[] LatinOnsets = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "tr", "st", "pl", "gr", "sh", "ch", "th"];
    private static readonly string[] LatinCodas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng"];

    public static ChatLanguage English { get; } = new("en",
    [
        "i", "you", "the", "to", "a", "it", "and", "is", "that", "me", "ok", "my", "in", "so", "of", "for", "be", "have", "on", "just",
        "do", "not", "we", "what", "lol", "this", "are", "yeah", "can", "at", "but", "was", "know", "with", "get", "if", "no", "yes",
        "like", "go", "all", "up", "good", "now", "will", "your", "how", "think", "see", "out", "going", "one", "time", "want", "there",
        "they", "got", "would", "about", "when", "then", "really", "love", "too", "back", "thanks", "did", "an", "or", "today",
        "tomorrow", "tonight", "haha", "sure", "right", "well", "still", "call", "home", "work", "need", "come", "here", "where", "why",
        "who", "also", "because", "maybe", "sorry", "later", "night", "morning", "week", "weekend", "day", "said", "tell", "make",
        "let", "them", "these", "those", "other", "their", "thing", "things", "people", "phone", "photo", "photos", "meet", "meeting",
        "dinner", "lunch", "coffee", "talk", "send", "sent", "message", "please", "thank", "sounds", "great", "nice", "fine", "free",
        "busy", "soon", "late", "early", "happy", "birthday", "car", "train", "bus", "ticket", "office", "school", "movie", "game",
        "party", "friday", "saturday", "sunday", "monday", "money", "pay", "buy", "shop", "food", "pizza", "beer", "wine", "water",
        "hope", "feel", "better", "look", "looks", "find", "found", "guys", "kids", "mom", "dad", "family", "house", "room", "door",
        "open", "done", "left", "leave", "wait", "start", "stop", "read", "book", "email", "link", "check", "picture", "video",
        "remember", "forgot", "idea", "plan", "plans", "flight", "hotel", "trip", "holiday", "address", "number", "minutes", "hours",
        "tomato", "phonecall", "theatre", "thursday", "therapy", "thermos", "photographer", "meetup", "tomb", "tommy",
    ],
    LatinOnsets, ["a", "e", "i", "o", "u", "ee", "oo", "ai"], LatinCodas, 40_000);

    public static ChatLanguage German { get; } = new("de",
    [
        "ich", "und", "du", "nicht", "das", "ist", "es", "die", "ja", "der", "was", "wir", "mit", "auch", "zu", "ein", "heute",
        "morgen", "schön", "für", "über", "müde", "später", "natürlich", "früh", "bis", "danke", "bitte", "gut", "genau", "vielleicht",
        "schon", "noch", "mal", "wann", "wo", "warum", "hier", "dann", "jetzt", "können", "möchte", "wäre", "hätte", "tschüss",
        "straße", "grüße", "übermorgen", "fährst", "küche", "mädchen", "hören", "wünsche", "glück", "größe", "gemütlich", "fußball",
        "bücher", "zurück", "täglich", "schlüssel", "äpfel", "öffnen", "überraschung", "führerschein", "gegenüber", "frühstück",
    ],
    ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "w", "z", "sch", "st", "pf", "kr", "gr", "fl"],
    ["a", "e", "i", "o", "u", "ä", "ö", "ü", "ei", "au", "ie"], ["", "n", "r", "t", "ch", "ng", "ck", "lt", "rn"], 10_000);

    public static ChatLanguage French { get; } = new("fr",
    [
        "je", "tu", "le", "la", "les", "et", "est", "pas", "de", "un", "une", "ça", "à", "demain", "café", "très", "déjà", "été",
        "où", "bientôt", "peut", "être", "merci", "bonjour", "salut", "oui", "non", "voilà", "français", "garçon", "fête", "hôtel",
        "forêt", "crème", "noël", "naïve", "après", "là", "même", "mère", "père", "frère", "élève", "théâtre", "préféré", "soirée",
        "journée", "désolé", "pâtes", "goûter", "août", "leçon", "château", "cinéma", "réunion", "numéro",
    ],
    ["b", "c", "d", "f", "g", "j", "l", "m", "n", "p", "r", "s", "t", "v", "ch", "pr", "tr", "qu"],
    ["a", "e", "i", "o", "u", "é", "è", "ê", "à", "â", "ô", "ou", "ai", "eau"], ["", "", "n", "r", "s", "t", "l"], 10_000);

    public static ChatLanguage Spanish { get; } = new("es",
    [
        "que", "de", "no", "sí", "el", "la", "y", "en", "mañana", "niño", "señor", "qué", "cómo", "está", "también", "años",
        "gracias", "hola", "bueno", "vale", "aquí", "allí", "después", "todavía", "corazón", "canción", "fútbol", "día", "más",
        "mamá", "papá", "pequeño", "España", "baño", "sueño", "cumpleaños", "rápido", "último", "música", "teléfono", "mañanas",
        "compañero", "diseño", "otoño", "montaña", "jamón", "jalapeño", "piñata", "árbol", "avión", "camión", "razón", "perdón",
    ],
    ["b", "c", "d", "f", "g", "j", "l", "m", "n", "ñ", "p", "r", "s", "t", "v", "ll", "ch", "tr"],
    ["a", "e", "i", "o", "u", "á", "é", "í", "ó", "ú", "ia", "ue"], ["", "", "n", "s", "r", "l", "z"], 10_000);

    public static ChatLanguage Nordic { get; } = new("no",
    [
        "og", "jeg", "det", "er", "ikke", "på", "så", "til", "med", "du", "øl", "smørbrød", "være", "også", "både", "går", "hjem",
        "hvordan", "få", "kjære", "søster", "bøker", "bursdag", "takk", "hei", "københavn", "ønsker", "kjøpe", "møte", "høre",
        "større", "først", "blåbær", "lørdag", "søndag", "fødselsdag", "kjøkken", "øye", "ærlig", "vær", "skjønner", "åpen",
    ],
    ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "sk", "kj", "sj", "st"],
    ["a", "e", "i", "o", "u", "å", "ø", "æ", "y"], ["", "n", "r", "t", "k", "ld", "nn"], 6_000);

    public static ChatLanguage Polish { get; } = new("pl",
    [
        "i", "nie", "się", "to", "że", "w", "na", "jest", "już", "będzie", "dziękuję", "cześć", "jutro", "dzisiaj", "dobrze", "może",
        "wszystko", "gdzie", "kiedy", "teraz", "później", "spotkanie", "pociąg", "żółty", "źle", "mówić", "książka", "miłość",
        "ciężko", "łóżko", "proszę", "trochę", "więc", "pieniądze", "zdjęcie", "wiadomość", "sąsiad", "urodziny",
    ],
    ["b", "c", "d", "g", "k", "l", "ł", "m", "n", "p", "r", "s", "t", "w", "z", "ż", "sz", "cz", "prz", "dz", "ś"],
    ["a", "e", "i", "o", "u", "y", "ą", "ę", "ó"], ["", "", "k", "n", "ć", "ń", "ść"], 6_000);

    public static ChatLanguage Russian { get; } = new("ru",
    [
        "и", "в", "не", "что", "я", "на", "ты", "это", "привет", "как", "дела", "да", "нет", "хорошо", "спасибо", "пока", "завтра",
        "сегодня", "сейчас", "потом", "где", "когда", "почему", "только", "ещё", "уже", "очень", "давай", "можно", "надо", "всё",
        "ёлка", "встреча", "работа", "дома", "позвони", "напиши", "фото", "москва", "приветик", "приехал", "пожалуйста", "люблю",
        "вечером", "утром", "деньги", "билет", "поезд", "день", "рождения", "мама", "папа", "друзья", "чай", "кофе", "ужин", "обед",
    ],
    ["б", "в", "г", "д", "ж", "з", "к", "л", "м", "н", "п", "р", "с", "т", "ф", "х", "ч", "ш", "пр", "ст", "кр"],
    ["а", "е", "и", "о", "у", "ы", "я", "ю", "ё"], ["", "", "н", "т", "к", "л", "й", "ть"], 12_000);

    public static ChatLanguage Greek { get; } = new("el",
    [
        "και", "το", "να", "είναι", "θα", "δεν", "τι", "καλημέρα", "ευχαριστώ", "γεια", "σου", "ναι", "όχι", "αύριο", "σήμερα",
        "τώρα", "μετά", "πού", "πότε", "γιατί", "πολύ", "καλά", "εντάξει", "σπίτι", "δουλειά", "φίλε", "λόγος", "καληνύχτα",
        "φαγητό", "καφέ", "θάλασσα", "ταξίδι", "μήνυμα", "τηλέφωνο", "Αθήνα", "γενέθλια", "χρόνια", "πολλά",
    ],
    ["β", "γ", "δ", "ζ", "θ", "κ", "λ", "μ", "ν", "ξ", "π", "ρ", "σ", "τ", "φ", "χ", "στ", "πρ"],
    ["α", "ε", "η", "ι", "ο", "υ", "ω", "ά", "έ", "ή", "ί", "ό", "ύ", "ώ", "ου"], ["", "", "ς", "ν"], 6_000);

    /// <summary>Every language; a conversation is in one of them, with English mixed in.</summary>
    public static IReadOnlyList<ChatLanguage> All { get; } = [English, German, French, Spanish, Nordic, Polish, Russian, Greek];
}
