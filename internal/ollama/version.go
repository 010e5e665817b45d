package ollama

import "context"

// Version asks the server for its version, quickly and without retrying, as
// Ping does; rag doctor shows it.
func (c *Client) Version(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*DialTimeout)
	defer cancel()
	v, err := c.api.Version(ctx)
	if err != nil {
		return "", c.classify("", err)
	}
	return v, nil
}
