// Package lexical analyses text into the terms of rag's BM25 leg.
package lexical
