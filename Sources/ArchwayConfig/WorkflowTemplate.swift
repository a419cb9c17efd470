public import Mustache

/// A step's prompt (or system prompt, `map` or output string): a Mustache template over `inputs`,
/// `steps.NAME.output` and, in a `map` step, `item`; never HTML-escaped.
///
/// The names it references outside sections are known at load time: they give the step's dependencies
/// and are checked when it renders, so a missing value is an error, never an empty string.
public struct WorkflowTemplate: Sendable {
    public let text: String
    public let template: MustacheTemplate
    /// Dotted names referenced outside sections (`["steps", "draft", "output"]`), in order.
    public let references: [[String]]
    /// Steps referenced anywhere in the template, sections included.
    public let referencedSteps: [String]
    /// Tags a workflow template may not use (a partial `{{> x}}`, a set-delimiter `{{=<% %>=}}`, …): they
    /// would hide references from the check and the schedule, and render as nothing.
    public let unsupportedTags: [String]

    /// What a parse error says, for a person: the parser's reason and where in the template, rather than
    /// the library's debug description of its internal state.
    public static func describe(_ error: any Error) -> String {
        guard let parse = error as? MustacheTemplate.ParserError else { return "\(error)" }
        let reason: String
        switch parse.error as? MustacheTemplate.Error {
        case .expectedSectionEnd?: reason = "a section ({{#name}} or {{^name}}) is not closed with {{/name}}"
        case .sectionCloseNameIncorrect?: reason = "a section is closed with another name than it opened with"
        case .unfinishedName?: reason = "a tag is not finished (a '{{' without its '}}')"
        case .invalidSetDelimiter?: reason = "a set-delimiter tag is malformed"
        default: reason = "\(parse.error)"
        }
        // The parser sees the template after the content-type tag Archway puts first.
        let column = parse.context.lineNumber == 1 ? max(1, parse.context.columnNumber - contentTypeTag.count) : parse.context.columnNumber
        return "\(reason), at line \(parse.context.lineNumber), column \(column) of the template"
    }

    /// Prompts are text: the TEXT content type turns HTML escaping off.
    static let contentTypeTag = "{{% CONTENT_TYPE: TEXT}}"

    /// Parses `text`; throws the parser's error for a template that does not parse.
    public init(_ text: String) throws {
        self.text = text
        self.template = try MustacheTemplate(string: Self.contentTypeTag + text)
        var references: [[String]] = []
        var steps: [String] = []
        var unsupported: [String] = []
        var depth = 0
        for tag in Self.tags(in: text) {
            let name = tag.name
            let path = name.split(separator: ".").map(String.init)
            if path.count >= 2, path[0] == "steps", !steps.contains(path[1]) { steps.append(path[1]) }
            switch tag.kind {
            case .variable:
                if depth == 0, name != "." { references.append(path) }
            case .sectionOpen:
                if depth == 0, name != "." { references.append(path) }
                depth += 1
            case .sectionClose:
                depth = max(0, depth - 1)
            case .other:
                // Comments are fine; partials, delimiter changes and the rest are not.
                if !name.hasPrefix("!") { unsupported.append(name) }
            }
        }
        self.references = references
        self.referencedSteps = steps
        self.unsupportedTags = unsupported
    }

    /// The one name the template consists of (`{{steps.a.output}}`), when that is all it is: such a
    /// string stands for the value itself (a list stays a list), not its text.
    public var soleReference: [String]? {
        guard let first = text.firstIndex(where: { $0 != " " }), let last = text.lastIndex(where: { $0 != " " }) else { return nil }
        let trimmed = String(text[first...last])
        let tags = Self.tags(in: trimmed)
        guard tags.count == 1, tags[0].kind == .variable, tags[0].length == trimmed.count else { return nil }
        return tags[0].name.split(separator: ".").map(String.init)
    }

    enum TagKind { case variable, sectionOpen, sectionClose, other }

    struct Tag {
        var kind: TagKind
        var name: String
        /// Characters the tag spans, delimiters included.
        var length: Int
    }

    /// The `{{…}}` tags of a template with the default delimiters, in order.
    static func tags(in text: String) -> [Tag] {
        var tags: [Tag] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            let afterOpen = rest[open.upperBound...]
            let triple = afterOpen.hasPrefix("{")
            guard let close = afterOpen.range(of: triple ? "}}}" : "}}") else { break }
            var inner = afterOpen[..<close.lowerBound]
            if triple { inner = inner.dropFirst() }
            var kind = TagKind.variable
            if let sigil = inner.first, !triple {
                switch sigil {
                case "#", "^": kind = .sectionOpen; inner = inner.dropFirst()
                case "/": kind = .sectionClose; inner = inner.dropFirst()
                case "&": inner = inner.dropFirst()
                case "!", ">", "<", "$", "%", "=": kind = .other
                default: break
                }
            }
            let name = String(inner.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            let length = rest.distance(from: open.lowerBound, to: close.upperBound)
            tags.append(Tag(kind: kind, name: name, length: length))
            rest = afterOpen[close.upperBound...]
        }
        return tags
    }
}
