import XCTest
@testable import MLPShell
import MLPEngine

final class LexerTests: XCTestCase {
    private let variables = ["epochs": "5", "name": "mnist data", "x": "1"]

    private func words(_ s: String) throws -> [Word] {
        try Lexer.words(in: s, variables: { self.variables[$0] })
    }

    private func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let e as EngineError { return e.message } catch { return "\(error)" }
        XCTFail("expected an error")
        return ""
    }

    // MARK: - Statements

    func testStatementsSplitOnSemicolons() throws {
        XCTAssertEqual(try Lexer.statements(in: "echo a; echo b;echo c"), ["echo a", " echo b", "echo c"])
        XCTAssertEqual(try Lexer.statements(in: "  ;; ; "), [])
        XCTAssertEqual(try Lexer.statements(in: ""), [])
    }

    func testHashStartsACommentOutsideQuotes() throws {
        XCTAssertEqual(try Lexer.statements(in: "seed 0 # the seed; not a statement"), ["seed 0 "])
        XCTAssertEqual(try Lexer.statements(in: "# only a comment"), [])
        XCTAssertEqual(try Lexer.statements(in: "echo \"a # b; c\"; echo d"), ["echo \"a # b; c\"", " echo d"])
        // Only a '#' that begins a word: inside a word it is a character.
        XCTAssertEqual(try Lexer.statements(in: "save run#3.safetensors"), ["save run#3.safetensors"])
        XCTAssertEqual(try Lexer.statements(in: "echo a#b #c"), ["echo a#b "])
        XCTAssertEqual(try Lexer.statements(in: "echo a;#c"), ["echo a"])
        XCTAssertEqual(try Lexer.statements(in: "echo a\t# c"), ["echo a\t"])
    }

    func testEscapedQuoteDoesNotCloseQuotes() throws {
        XCTAssertEqual(try Lexer.statements(in: #"echo "a \" ; b"; echo c"#), [#"echo "a \" ; b""#, " echo c"])
        XCTAssertEqual(try words(#"echo "say \"hi\"""#).map(\.text), ["echo", "say \"hi\""])
    }

    func testUnterminatedQuoteIsAnError() {
        let m = message { _ = try Lexer.statements(in: "echo \"abc") }
        XCTAssertTrue(m.contains("unterminated"), m)
        XCTAssertTrue(message { _ = try self.words("echo \"abc") }.contains("closing \" is missing"))
    }

    // MARK: - Words

    func testWordsSplitOnWhitespace() throws {
        XCTAssertEqual(try words("  linear   784\t120  "), [Word("linear"), Word("784"), Word("120")])
    }

    func testQuotedWordsKeepSpacesAndAreMarkedQuoted() throws {
        let w = try words("echo \"hello  world\" plain \"\"")
        XCTAssertEqual(w, [Word("echo"), Word("hello  world", quoted: true), Word("plain"), Word("", quoted: true)])
        // A quote inside a word joins its pieces into one word: after KEY= it is the option's
        // value (name="my run"), elsewhere it makes the word quoted text.
        XCTAssertEqual(try words("path=\"/a b\"/c"), [Word("path=/a b/c", quoted: false)])
        XCTAssertEqual(try words("\"path=/a b\"/c"), [Word("path=/a b/c", quoted: true)])
        XCTAssertEqual(try words("a\"b c\"=d"), [Word("ab c=d", quoted: true)])
        // Script text reads back as the same words.
        for w in [Word("name=my run"), Word("path=/a b/c", quoted: true), Word("x=$1"), Word("a;b"), Word("")] {
            XCTAssertEqual(try words(w.scriptText).map(\.text), [w.text], w.scriptText)
        }
        XCTAssertEqual(try words(Word("name=my run").scriptText), [Word("name=my run")])
    }

    func testVariablesExpand() throws {
        XCTAssertEqual(try words("train epochs=$epochs").map(\.text), ["train", "epochs=5"])
        XCTAssertEqual(try words("echo ${epochs}0 $x.5").map(\.text), ["echo", "50", "1.5"])
        // Inside quotes too; a value with spaces stays one word.
        XCTAssertEqual(try words("echo \"n=$epochs, ${x}\" $name"),
                       [Word("echo"), Word("n=5, 1", quoted: true), Word("mnist data")])
    }

    func testDoubleDollarIsALiteralDollar() throws {
        XCTAssertEqual(try words("echo $$5 \"$$x\"").map(\.text), ["echo", "$5", "$x"])
    }

    func testUndefinedVariableIsAnErrorSayingHowToDefineIt() {
        let m = message { _ = try self.words("train epochs=$epoch") }
        XCTAssertEqual(m, "undefined variable '$epoch' (define it with 'set epoch VALUE')")
        XCTAssertTrue(message { _ = try self.words("echo ${nope}") }.contains("'$nope'"))
        XCTAssertTrue(message { _ = try self.words("echo ${epochs") }.contains("not closed"))
        XCTAssertTrue(message { _ = try self.words("echo $ x") }.contains("$$"))
    }

    // MARK: - Invocation

    private func invocation(_ s: String) throws -> Invocation {
        Invocation(words: try words(s), location: SourceLocation(file: "t.mlp", line: 3))
    }

    func testKeyValueBecomesAnOption() throws {
        let inv = try invocation("data train mnist split=train limit=2000")
        XCTAssertEqual(inv.name, "data")
        XCTAssertEqual(inv.positional, ["train", "mnist"])
        XCTAssertEqual(inv.options, ["split": "train", "limit": "2000"])
        XCTAssertEqual(inv.location, SourceLocation(file: "t.mlp", line: 3))
        // The value may itself hold '='; an empty value is still an option.
        let eq = try invocation("echo a=b=c d=")
        XCTAssertEqual(eq.options, ["a": "b=c", "d": ""])
        // Not a name before '=': positional.
        XCTAssertEqual(try invocation("echo 1=2 =x").positional, ["1=2", "=x"])
    }

    func testQuotedKeyValueStaysPositional() throws {
        let inv = try invocation("echo \"a=b\" c=d")
        XCTAssertEqual(inv.positional, ["a=b"])
        XCTAssertEqual(inv.options, ["c": "d"])
    }

    func testOptionGivenTwiceIsAnError() {
        // The words are kept as written; the command that reads options refuses the repeat.
        XCTAssertEqual(try invocation("train epochs=2 batch=4 epochs=3").repeatedOption, "epochs")
        XCTAssertNil(try invocation("train epochs=2 batch=4").repeatedOption)
        let command = CommandTable(builtinCommands()).lookup("train")!
        let session = Session(console: Console(write: { _ in }, writeError: { _ in }))
        let m = message { try command.invoke(try self.invocation("train epochs=2 batch=4 epochs=3"), session) }
        XCTAssertEqual(m, "option 'epochs=' is given twice")
    }

    func testVariableNames() {
        XCTAssertTrue(Lexer.isVariableName("epochs"))
        XCTAssertTrue(Lexer.isVariableName("_x2"))
        XCTAssertFalse(Lexer.isVariableName("2x"))
        XCTAssertFalse(Lexer.isVariableName(""))
        XCTAssertFalse(Lexer.isVariableName("a-b"))
    }
}
