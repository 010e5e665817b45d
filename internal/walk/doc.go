// Package walk finds the files `rag ingest PATH...` should read, the way
// ripgrep does: it walks each root in sorted order, leaves out hidden files,
// .git and node_modules folders and whatever .gitignore, .ignore and
// .ragignore files exclude, never follows a symbolic link, and keeps secrets
// (.env, private keys, credential files), binary files and files over a size
// limit out, reporting each of those so a user can see why a file was not
// read. It does not read file contents beyond an 8 KiB sniff, extract text
// or decide whether a file changed since the last ingest.
//
// Pattern matching uses github.com/go-git/go-git/v5/plumbing/format/gitignore.
// It is maintained with go-git itself (frequent releases, tested against
// git's own behaviour), models nested ignore files directly through a
// pattern's domain (the folder that holds the file), and is pure Go. It was
// preferred over github.com/sabhiram/go-gitignore, unmaintained since 2021
// and without nested semantics, and github.com/boyter/gocodewalker, a whole
// walker whose decisions we could not report and which the module proxy
// does not serve. Only the pattern matcher is used; walking is our own so
// every left-out file can be reported with its reason.
package walk
