"""Operations: what `plan`, `apply`, `destroy`, `import`, `apply --refresh-only` and
`drift` do, as functions the command line (and tests) call.

Like Terraform's backend operations, each takes the working directory, one options
object and, where the operation talks to a person, a view (`ApplyView`) for what it
shows and asks; it returns a result for the caller to render. The click commands in
`l4plan/cli/` parse options, call one of these, and print the result.
"""
