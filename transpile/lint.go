package transpile

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// lintMode warns about a mode written in decimal that was meant as octal
// (mode: 644). YAML reads 644 as six hundred forty-four, which is 0o1204:
// sticky and odd permissions. A decimal literal made only of octal digits
// that is larger than 0o777 is almost surely that mistake; decimal modes
// written on purpose (420 for 0o644, 493 for 0o755) are not flagged.
func (w *walker) lintMode(n *yaml.Node, in string) {
	lit := n.Value
	if lit == "" || lit[0] == '0' || strings.Trim(lit, "01234567") != "" {
		return
	}
	v, err := strconv.Atoi(lit)
	if err != nil || v <= 0o777 {
		return
	}
	w.warnAt(n, in, "mode %s is decimal (0o%o); write 0%s for octal %s", lit, v, lit, lit)
}
