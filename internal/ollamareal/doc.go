// Package ollamareal holds rag's tests against a real Ollama server (v0.17.4,
// the version of rag's ollama/api), built from the Go module cache and run on
// loopback with the tiny generated models of ../shared/tinymodels. The tests
// run only with RAG_TEST_OLLAMA set (make test-ollama), and skip, saying why,
// when the server cannot be built or started. They cover what the fake server
// of package ollamatest can only imitate: the real tokenizers and context
// limits, model loading, runner crashes and restarts, the structured-output
// grammar and the error texts; and they check the fake against the real server
// request by request. The package has no non-test code.
package ollamareal
