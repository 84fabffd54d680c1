using System.Text;

namespace SecureChat.Bench.Search;

/// <summary>
/// A deterministic stand-in for a long chat history: <see cref="Conversations"/> conversations,
/// each in one language with some English mixed in, busy ones and quiet ones (Zipf over
/// conversations), lines of 3–25 words drawn Zipf-like from each language's vocabulary, with mixed
/// case, punctuation, numbers and emoji. Message <c>i</c> has ID <c>i + 1</c>; send times increase.
/// </summary>
public sealed class SyntheticCorpus
{
    public const int Conversations = 200;
    public const ulong DefaultSeed = 0x5EC0_C4A7_2026UL;

    /// <summary>Where the rare test word sits in the English ranks (about 1.5 uses per 100,000 words).</summary>
    public const int RareWordRank = 4_000;
    public const string RareWord = "dentist";

    /// <summary>The first of 2023 (UTC), in Unix milliseconds.</summary>
    private const long StartMs = 1_672_531_200_000;

    // Twenty slots: half of the conversations are English, the rest spread over the other languages.
    private static readonly int[] LanguageOfSlot = [0, 1, 0, 2, 0, 3, 0, 6, 0, 4, 0, 1, 0, 2, 0, 3, 0, 5, 0, 7];

    private static readonly string[] Endings = ["", "", "", ".", ".", "!", "?", "?", " 🙂", "!!", " :)", "...", " 😂"];

    private SyntheticCorpus(string[] texts, int[] conversations, long[] sentAtMs)
    {
        Texts = texts;
        ConversationOf = conversations;
        SentAtMs = sentAtMs;
    }

    public int Count => Texts.Count;

    public IReadOnlyList<string> Texts { get; }

    public IReadOnlyList<int> ConversationOf { get; }

    public IReadOnlyList<long> SentAtMs { get; }

    /// <summary>The language of a conversation.</summary>
    public static ChatLanguage LanguageOf(int conversation) => ChatLanguage.All[LanguageOfSlot[conversation % LanguageOfSlot.Length]];

    public static SyntheticCorpus Generate(int count, ulong seed = DefaultSeed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var random = new SplitMix64(seed);
        var vocabularies = ChatLanguage.All.Select(language => BuildVocabulary(language, random)).ToArray();
        var samplers = vocabularies.Select(words => new ZipfSampler(words.Length, 1.0)).ToArray();
        var conversationSampler = new ZipfSampler(Conversations, 0.7);

        var texts = new string[count];
        var conversations = new int[count];
        var sentAt = new long[count];
        var line = new StringBuilder(256);
        var time = StartMs;
        for (var i = 0; i < count; i++)
        {
            var conversation = conversationSampler.Next(random);
            var language = LanguageOfSlot[conversation % LanguageOfSlot.Length];
            time += 1000L * (1 + random.NextInt(180));
            conversations[i] = conversation;
            sentAt[i] = time;
            texts[i] = WriteLine(line, random, language, vocabularies, samplers);
        }

        return new SyntheticCorpus(texts, conversations, sentAt);
    }

    /// <summary>How many messages contain a word that <paramref name="term"/> begins (for reports).</summary>
    public int CountMatches(string term)
    {
        var terms = new[] { term };
        return Texts.AsParallel().Count(text => TextNormalizer.MatchesAll(TextNormalizer.Normalize(text), terms));
    }

    private static string WriteLine(StringBuilder line, SplitMix64 random, int language, string[][] vocabularies, ZipfSampler[] samplers)
    {
        line.Clear();
        var u = random.NextDouble();
        var words = 3 + (int)(23 * Math.Pow(u, 2.2));
        for (var w = 0; w < words; w++)
        {
            if (w > 0)
            {
                line.Append(random.Chance(0.06) ? ", " : random.Chance(0.02) ? " - " : " ");
            }

            if (random.Chance(0.015))
            {
                line.Append(random.NextInt(2100));
                continue;
            }

            var from = language != 0 && random.Chance(0.15) ? 0 : language;
            var word = vocabularies[from][samplers[from].Next(random)];
            if ((w == 0 && random.Chance(0.5)) || random.Chance(0.02))
            {
                line.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
            }
            else if (random.Chance(0.01))
            {
                line.Append(word.ToUpperInvariant());
            }
            else
            {
                line.Append(word);
            }
        }

        line.Append(Endings[random.NextInt(Endings.Length)]);
        return line.ToString();
    }

    /// <summary>The common words, then made-up words from the language's syllables; English gets the rare test word.</summary>
    private static string[] BuildVocabulary(ChatLanguage language, SplitMix64 random)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var words = new List<string>(language.CommonWords.Length + language.TailSize);
        foreach (var word in language.CommonWords)
        {
            if (seen.Add(word))
            {
                words.Add(word);
            }
        }

        var target = words.Count + language.TailSize;
        var syllable = new StringBuilder();
        for (var attempt = 0; words.Count < target && attempt < 100 * target; attempt++)
        {
            syllable.Clear();
            var syllables = 1 + random.NextInt(3) + (random.Chance(0.3) ? 1 : 0);
            for (var s = 0; s < syllables; s++)
            {
                syllable.Append(language.Onsets[random.NextInt(language.Onsets.Length)])
                    .Append(language.Vowels[random.NextInt(language.Vowels.Length)])
                    .Append(language.Codas[random.NextInt(language.Codas.Length)]);
            }

            var made = syllable.ToString();
            if (made.Length >= 3 && seen.Add(made))
            {
                words.Add(made);
            }
        }

        if (language == ChatLanguage.English)
        {
            seen.Remove(RareWord);
            words.Remove(RareWord);
            words.Insert(RareWordRank, RareWord);
        }

        return [.. words];
    }
}
