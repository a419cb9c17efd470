extension InjectionScorer {
    static let overrideVerbs: Set<String> = ["ignore", "disregard", "forget", "skip", "override", "bypass", "neglect", "drop", "abandon", "discard", "erase"]
    static let earlier: Set<String> = ["previous", "prior", "above", "earlier", "preceding", "former", "initial", "original", "all", "any", "every", "your", "system", "developer", "existing", "old"]
    static let directions: Set<String> = [
        "instructions", "instruction", "prompt", "prompts", "rules", "directions", "guidelines", "guidance", "context",
        "constraints", "commands", "orders", "programming", "directives", "restrictions", "policies", "policy",
    ]
    static let reveal: Set<String> = ["reveal", "show", "print", "repeat", "output", "display", "tell", "give", "leak", "dump", "share", "recite", "disclose", "expose", "paste", "echo", "reply", "respond"]
    static let hidden: Set<String> = ["system", "initial", "hidden", "secret", "original", "developer", "internal", "confidential", "full", "exact"]
    static let promptWords: Set<String> = ["prompt", "prompts", "instructions", "message", "rules", "configuration", "preamble"]
    /// First-person words: right before an override's target ("my previous instructions", "everything I
    /// told you") or right after it ("the instructions I gave"), the user's own earlier words.
    static let ownWords: Set<String> = ["my", "i"]
    static let limits: Set<String> = ["restrictions", "restriction", "limits", "limitations", "rules", "filters", "filter", "guidelines", "censorship", "boundaries", "constraints", "ethics", "morals", "safeguards"]

    static let defaultRules: [Rule] = [
        // A user taking back their own words ("ignore my previous instructions, use Spanish") is not an
        // override of anyone else's.
        Rule(name: "instruction_override", weight: 0.85, slots: [overrideVerbs, earlier, directions], notOwn: true),
        Rule(name: "instruction_override", weight: 0.85, slots: [overrideVerbs, directions, ["above", "before", "earlier", "given", "so"]], gap: 2, notOwn: true),
        Rule(name: "instruction_override", weight: 0.8, slots: [["forget"], ["everything", "anything"], ["told", "said", "above", "before", "know"]], notOwn: true),
        Rule(name: "instruction_override", weight: 0.85, slots: [overrideVerbs, ["everything", "anything"], ["above", "before", "earlier", "previously"]], gap: 1, notOwn: true),
        Rule(name: "instruction_override", weight: 0.85, slots: [overrideVerbs, ["safety", "ethical", "ethics", "moderation", "content"], ["rules", "guidelines", "policies", "policy", "filters", "restrictions", "guardrails"]], gap: 5),
        Rule(name: "new_instructions", weight: 0.5, slots: [["new", "updated", "real", "actual", "revised", "true"], ["instructions", "orders", "directives", "task", "rules"]], gap: 1),
        Rule(name: "prompt_extraction", weight: 0.8, slots: [reveal, hidden, promptWords]),
        Rule(name: "prompt_extraction", weight: 0.8, slots: [["contents", "content", "text", "wording", "copy"], hidden, promptWords], gap: 2),
        Rule(name: "prompt_extraction", weight: 0.8, slots: [reveal, ["everything", "words", "text", "all"], ["above", "before", "earlier"]], gap: 3),
        Rule(name: "prompt_extraction", weight: 0.6, slots: [["what"], ["are", "is", "were", "was"], ["your"], ["instructions", "rules", "system", "prompt", "guidelines"]], gap: 1),
        Rule(name: "jailbreak_persona", weight: 0.85, slots: [["do"], ["anything"], ["now"]], gap: 0),
        Rule(name: "jailbreak_persona", weight: 0.75, slots: [["god", "jailbreak", "jailbroken", "unrestricted", "unfiltered", "evil", "dan", "chaos"], ["mode"]], gap: 1),
        // "Developer mode" is also what phones and browsers call a setting: alone it is below the usual
        // threshold, with another sign of a jailbreak above it.
        Rule(name: "jailbreak_persona", weight: 0.5, slots: [["developer"], ["mode"]], gap: 1),
        Rule(name: "jailbreak_persona", weight: 0.8, slots: [["you", "act", "pretend", "roleplay", "behave", "respond", "answer"], ["no", "without", "free", "ignoring", "beyond"], limits], gap: 4),
        Rule(name: "jailbreak_persona", weight: 0.8, slots: [["no"], ["longer"], ["bound", "restricted", "limited", "constrained", "an", "chatgpt", "claude", "required"]], gap: 1),
        Rule(name: "jailbreak_persona", weight: 0.6, slots: [["jailbreak", "jailbroken", "dan"]]),
        Rule(name: "document_instruction", weight: 0.75, slots: [["if", "when", "note", "attention"], ["ai", "assistant", "llm", "model", "chatbot", "gpt", "bot", "agent"], ["reading", "reads", "processing", "summarizing", "summarising", "analyzing", "analysing", "parsing", "are", "is", "sees"]], gap: 3),
        Rule(name: "document_instruction", weight: 0.6, slots: [["instead"], ["output", "respond", "reply", "say", "write", "print", "answer", "tell"]], gap: 1),
        Rule(name: "exfiltration", weight: 0.6, slots: [["send", "forward", "email", "post", "upload", "exfiltrate", "transmit", "leak"], ["conversation", "chat", "history", "credentials", "passwords", "password", "keys", "secrets", "tokens", "data"], ["to", "http", "https", "url", "address"]], gap: 3),
        // Overrides in other languages.
        Rule(name: "instruction_override", weight: 0.85, slots: [["ignora", "ignore", "olvida", "omite", "ignorar", "olvidar"], ["todas", "las", "anteriores", "previas", "tus"], ["instrucciones", "reglas", "indicaciones"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["ignore", "ignorez", "oublie", "oubliez", "ignorer"], ["toutes", "les", "précédentes", "tes", "vos"], ["instructions", "consignes", "règles"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["ignoriere", "ignorieren", "vergiss", "vergessen", "ignorier"], ["alle", "vorherigen", "bisherigen", "obigen", "deine", "die"], ["anweisungen", "instruktionen", "regeln", "befehle", "vorgaben"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["ignora", "dimentica", "ignorare"], ["tutte", "le", "precedenti", "tue"], ["istruzioni", "regole"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["ignore", "ignora", "esqueça", "esqueca", "ignorar"], ["todas", "as", "anteriores", "suas"], ["instruções", "instrucoes", "regras"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["negeer", "vergeet"], ["alle", "vorige", "eerdere", "je"], ["instructies", "regels"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["игнорируй", "игнорируйте", "забудь", "забудьте", "проигнорируй"], ["все", "предыдущие", "прежние", "свои"], ["инструкции", "указания", "правила"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["zignoruj", "zapomnij"], ["wszystkie", "poprzednie"], ["instrukcje", "polecenia", "zasady"]]),
        Rule(name: "instruction_override", weight: 0.85, slots: [["önceki", "onceki", "tüm", "tum"], ["talimatları", "talimatlari", "kuralları"], ["yok", "unut", "görmezden", "gormezden"]]),
    ]
}
