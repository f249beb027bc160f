package serialize

import "github.com/wampkit/wampkit/protocol"

// validate checks a decoded message with the protocol package's rules.
// TODO: switch to protocol.Validate once it lands; until then the message
// list is rebuilt and checked with protocol.FromList.
func validate(e *envelope, _ protocol.Message) error {
	l := make(protocol.List, e.n+1)
	l[0] = int64(e.typ)
	lay := &layouts[e.typ]
	for i := 0; i < e.n; i++ {
		switch lay.fields[i].kind {
		case kindID:
			l[i+1] = e.num[i]
		case kindURI, kindStr:
			l[i+1] = e.str[i]
		case kindDict:
			if e.dict[i] == nil {
				l[i+1] = protocol.Dict{}
			} else {
				l[i+1] = e.dict[i]
			}
		case kindList:
			l[i+1] = e.list[i]
		}
	}
	_, err := protocol.FromList(l)
	return err
}
