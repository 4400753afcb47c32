package crypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// ikev2KDFVectors are NIST CAVS 17.3 "IKE v2" component test vectors for
// the SP 800-135 IKEv2 KDF (ikev2.fax of the CAVP KDF135 set, as NSS
// vendors it in tests/fips/cavs_samples/IKE/fax/ikev2.fax): COUNT 0-2 of
// each [g^ir length = 256] [Ni length = 64] section and COUNT 0 of each
// [Ni length = 2048] section, whose 512-byte Ni | Nr exceeds the HMAC block
// and so is hashed as the SKEYSEED key. CAVS defines
//
//	SKEYSEED          = prf(Ni | Nr, g^ir)
//	DKM               = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
//	DKM(Child SA)     = prf+(SK_d, Ni | Nr)
//	DKM(Child SA D-H) = prf+(SK_d, g^ir (new) | Ni | Nr)
//	SKEYSEED(Rekey)   = prf(SK_d, g^ir (new) | Ni | Nr)
//
// with SK_d the first PRF-output-size bytes of DKM, and every DKM 1056 bits
// (3072 bits for the long nonces).
var ikev2KDFVectors = []struct {
	name                                string
	prf                                 PRF
	ni, nr, gir, girNew, spiI, spiR     string
	skeyseed, dkm, dkmChild, dkmChildDH string
	skeyseedRekey                       string
}{
	{
		name:     "SHA-256 g^ir length=256 Ni length=64 COUNT 0",
		prf:      PRFHMACSHA2_256,
		ni:       "3f302be1abcb28e1",
		nr:       "8c332ee006064c9b",
		gir:      "0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29",
		girNew:   "25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c",
		spiI:     "40dac39e1e1a8640",
		spiR:     "8619a1cf9a6e4c07",
		skeyseed: "5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe",
		dkm: `0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ec
			e98aca531188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6
			cdf6854379e31be72b8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4
			e1c19bdcd4db14b29d98db1a74ad405c588662c14a04d0d36aa4ab55e90f8986
			d12d4aad`,
		dkmChild: `7d808e2b44635300e7025f1b640c431b13a9b3b891cd45a15261f4f3c4a7e39b
			3a3c8017ccc2b74610faf52ba3faf6d9e83c859b448217b24dadc82c9887460b
			7bd724236b9885914cc93b39d6c749e92f36b30c9eb6a9f59e396bc7c0ac4878
			512639cc612c5660ddb1a1fed360ac8b9b3f548f13482d0431b38eca293ef976
			81e179fc`,
		dkmChildDH: `67edd256e64542436173e3ca39ef1fdec3c8240b860df26f84caf5258578ff35
			df40ddc31ea210e0523988b7531c9dc3207e0e98e256214999c7712f73ff044a
			9cf6e3a5e421862b9ba140862f460ea5236527cf8346db9ac23feb6636e21fc7
			a18a94a2e9d4ad95356e278f46ac3fa53a75a058c87293cf38dd863e879f84d0
			e0935da3`,
		skeyseedRekey: "2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398",
	},
	{
		name:     "SHA-256 g^ir length=256 Ni length=64 COUNT 1",
		prf:      PRFHMACSHA2_256,
		ni:       "88b5aa59a0fe5e64",
		nr:       "6a6ece8dcdb0190d",
		gir:      "a782561a3d0a665ea941218f26fb0621447b49e72dbb7690b075eb896d919508",
		girNew:   "4d2d66df0d27d04f059ec5b748967d020cc4942cf177b3a673455dc794a01814",
		spiI:     "07d1874aabd690f4",
		spiR:     "fd427043dbd7c855",
		skeyseed: "991902f19ac2bfc8a66212627184d76c111b3e254ba32c84a483dadbef876f09",
		dkm: `42eb71fcc3a28edc4aca6642f66327df743fef40c2114c044c0e36c4ccb1b073
			991c3d7c539ed629ccb90df67186010595da63c5f99c90c5ca61898cff9b6ea2
			83bf747c06b03fe77faccf21c1b62f68d05ed4810485abc2c94f8481e0614245
			5636257133458a9ca66e07ab3a6d4234f03f48cf5df477fd1b50efe6a779d10c
			b843d843`,
		dkmChild: `13d97c84c58c1f935d9046873ce5494305147b6df64525b26ce44fff7e7d427d
			4857056584ca4d8d67ff1d0c3acc935de338e7ae2272a4d5d9d1c013f89c526f
			3352ba32a88a5f9e94773561e82adcafc1f0d0da57a2487e2cacefe8a9497e06
			0c05790879edf84a4434ff9f86620568e577a72d7103ec4e72fc469bea82ba36
			f54e5d5c`,
		dkmChildDH: `965cca58ac9c81ba5467f400a206d5478b6b21f28cc24ce8cdb70335cda7647b
			29a8e7ff7bc0528416b0b17f498a8c55ee7bfae0726bae6aefe3670ef8019a97
			33efd8d2538da7d7689f25670b1216d7ca54468eb923db5c6b0f6f10ebb1b811
			245df389a79c37ced9129cfbad0c5ce1c18c1a250648113d06adc1d1d923a467
			927c1783`,
		skeyseedRekey: "1ac05b58d150587a2a1dae577c3e96b7ab19a6c68445fb7d5afba5e6b0eccb54",
	},
	{
		name:     "SHA-256 g^ir length=256 Ni length=64 COUNT 2",
		prf:      PRFHMACSHA2_256,
		ni:       "30af56a3fa207cbc",
		nr:       "a2f8e39155f6e857",
		gir:      "26bc72a66033b83a63dcdef47094ec013b87bc0db9fedb4baf5ba46fb7067da3",
		girNew:   "66a557d82d3812593c934924e3fffc66abdefa598a0dd625d29e651b855fbc16",
		spiI:     "bcd65b1e4996c06f",
		spiR:     "63d4fc2584df98ef",
		skeyseed: "33410db74ab706c69512c56311f46efa414967c0bad314368c8a0d6b4b01bd1d",
		dkm: `97568947508380f093ab78d01b0df0e9a2d7f676de42728ece15161b14f08247
			7e551ecd3651c48e6e72594860b21889b16a2126d66dbfbd64d7864f667f16be
			00748e8a4b7d55648d436cd48a3a9a3522d2d71b2c06f5dc7952916fdffa2ab9
			1b879ca9c80ab74ef44713e6b053b5a623491abd40f5c5c4fc21be0e7593c9dc
			252b0940`,
		dkmChild: `99927d3ae61fcda6e334fcd05b836c9d9892876360ae0b5f6b09f54bff74df86
			387ecf38fd0eb8a59eac3674141f856245a8368daf533c2f55054a303cc11dd6
			f08f91a51917e4fe76ba84defdee5ff9bc7c070d088a8aa18c7f4707d699894d
			e9ac7494ee73a1e58ff64e4665afdd0e63dc2767e945fc9138ddde2450b22868
			34b50245`,
		dkmChildDH: `1a5ce65633e7ad09ca744d7e496bb0cdf9ca56c39fcddebea80ad1094fd9bf4d
			57ba8571c70cb45a1c0a90cff39e036dba18f10bd6e1a6c7cb7dcb77ad1cb2e5
			da941a476391c5d73eab2b1b20dcbd2f6505d5f33ccf5f4c51accce3eedffe75
			819c7cb33f82226750dd91619b8ecdf6664bacd9c18577340bb18d74ad09d304
			0d6c3081`,
		skeyseedRekey: "c691ba6638d143b96b190af5b3bf6f31391d42ded05fb261f48884f8b2af4e3e",
	},
	{
		name: "SHA-256 g^ir length=256 Ni length=2048 COUNT 0",
		prf:  PRFHMACSHA2_256,
		ni: `52695be4ccad9c05e6599fe796d899bde72e26be01c243d8e2cf9ca685958838
			9eb5781b54dc2ba6a12dbe146e453a53531b4b731f527dcc5e7380f630764b21
			36e45d9b9e371fbd3a996884870099e5e5b4eed40d51c4a148c3c2bc340add5e
			ea80c6f5b670b6b0d62e5499e9d898e07b2acb435911ed8e54b0ea74e0b0e486
			df9706ad1d2fe1cea8cf3d26236c9764c44a2159c0f726cd1aec5999964e91aa
			6a234da90bfbded712ec3b628e0bbbdc0d340a47fd1e33fc9401072f145895d9
			88f69cefca1bdc20275be3ff69e3c71303454cae5e35f5835c139df283fe6cec
			3583449bf0a66ae6f108f4d4a1c7fcaa63ae7cc7592793d34ca11577ac5be944`,
		nr: `fd2f17562e5948ee1aba5d1bcc288a0969b323dd82208b93b59cf6320d0beaef
			04c1d9dd440c9b9325993e542703516a7a37819eefc33a24fa7e38a56e199fcf
			ee36b43747d60802695beaa0d8955d1c78d87884f40614d79f1ec9807c538798
			5e1bacbea4772b6217587bcab6f1ea040012e56ecd8d119d8438380b276ff4f3
			57b1d3f1dccbfe3356c3a3d841b10d872b0fb076c12b68ecd835c5592ec9277f
			c92b6c9cee6594dfad80d4518c113935ec23923bfc244fd03876e43e4cb48583
			10d0d54b5f25f81153620131728136b481d522d52931ecd71983e716fe05daeb
			3378579d1644b43d2d0c7b4971064a992caffd58deec43c1063e55d2937df734`,
		gir:      "a94b14531636fe15eaf6702bad948aaa45363de91b8612035732284f90b1f4c3",
		girNew:   "4ed8e741924534724004e875af6868cc4cabe11533a72ebd4bafe41e092a3084",
		spiI:     "cc764573887db682",
		spiR:     "34a8c67dc5b90587",
		skeyseed: "61fa41aee660c44ed0ab4bf631081277cea673f94a533a01ef02b6d8860cc8fa",
		dkm: `8fe38e354da09b21c7d79ee4209d7694899efb7690365aaf63c0ab8ef8530550
			72111acf542ba0dcd8f761edc4e02edbcdeba6f608b8c028873a996aa081e5dc
			4dc6c4e087829c5fd89591ac07e919ac7bd57614befb68fc302637c63a8acd85
			8437399e6558fd6799460e0406b7c4790659e9eb3aab49362cfca27e13a8c87f
			499db965c3dba93c01eb92b34bb1614ff4280c7001ebc03477dee0d1346eb96d
			42d4195ec9601340afd638e6840fe809975470c57a3587515f3084b1514086e1
			0b3e309683a1ef0d81c044d8dec9c3377b434756bec87ac0ff30228bfd2540ad
			e3505e15b4b2f79e86c20c8648d2addb0089b96bee956ffff5e8df8c0ac17681
			1b4c69d2825ec1fa7db51df6ac2117bd85ca6e5f328616c82d21ae9b2e9adbd5
			757010cd91b07b6c1d83242b02f66e315c727b9ae97647ca05e9628be7fa91d0
			462eb480c4b4aa3ab6d78f884b7523d71c0149d1d9203572d51a30be703d8692
			0cdbb08b0d5358af2c41c7da340313a6dff5438ab8631c89e3069219c981cf3f`,
		dkmChild: `e05582c7d29bc0739bedfb3ef9745c4a5fbecda17c8ced9beb0f55d33603b771
			c0744010e993e5721335a4019b1ab2f4c20fbc51b897ae0396c3767e80e6b7dc
			74d18b7d57bd01690e710138434cc651fe91777eb85a2f3be0d3a1da4a03a4b4
			3b82cef0ad1cadc9fc62f1bf67671c6ca9379118d3f3aedb8baf9102483f1fca
			35e1ce1e8f0aa1910661c6d4cca9bd576a925cc880f7ded97afcf70fc8cea344
			cf82dfc67fe23ccb46c830e59faf994d8290c7191e7052d2bae713f2c70f1dea
			30c5d7113ccb657379ccb8eed772b91ed2e3b4b1b4a7758fcda96279c10d645b
			d293781d640e9147c57ed137f8db673a02c0ce2cc88613948248f79b42367442
			a9533dd9a5883935415fe7f42bdf90360083562d88c489ca2f8f128673726fe6
			d55a44828fcfa349da3fe9e6c44f83c8666de981520fd999f6e46aa214d96d20
			587c3d9f44304b88bb5cefe51855af013d79b3e4852ffd69798a1748b389f941
			0ca653129dac0bbe03098fd997fea57d0ac098650de4821c427251681e3329bc`,
		dkmChildDH: `dacc5eb83aaa08449c274a11150d649d055bd921d66893b0b2df8f509e4df337
			cc3863a8a34f8e2b033fcaaee7c2f9bf68cf21b65c97355cf11873c93f9bee6c
			4b217c511eae289f11cc6cb1078af909960795433d000a7fe5ae4ec67513c3f2
			4a0c0ffdf445cf2ada0b24140a8011cb3459f364a9c4819b830028a7cd4198e6
			b31a2b3d222f7ab3f462a3ac64966e87a29110a67614a3fe6c1057b23e820f5b
			a10bcf4821df5e1ed54bbbf191570b697fcec8c733a084a1ff76bee6bdf53ff3
			d737aff9e9b983a7ae9e648950ac7fdf69c8ebef6f8b4aee3603cdc132d0c989
			0e58829ebb6c40f5699d8130bf2c86f16280be2a8f38f633576254de9898718e
			42b50f3b7729d6ca33ab1ab4cd7e0f8dd9e1022fd889f639a76ef7bf00fafc27
			d9673dd2c78f56385cdad9841606a180fc7b7f869999165859f32de0b314a1ae
			419e703557df9c98aa156cee5962baa331e711faeb81d1116e4cfd3c6e40fc74
			732266cbe7328d7869bf676c30d21f902a78a3e5ec97c97f8266c359668d2fbb`,
		skeyseedRekey: "851ac5c3a213576fa2b9c50d60793619eba336e3a5cb3632040c466e34db6cab",
	},
	{
		name:   "SHA-384 g^ir length=256 Ni length=64 COUNT 0",
		prf:    PRFHMACSHA2_384,
		ni:     "fd1b572a8e735591",
		nr:     "6013b0ef88dacd3d",
		gir:    "d3288cd87565101e88fe3bad918f31939d8dd26ff1071f8b2d7f447524e58d7c",
		girNew: "3358f620539473aee8d07e779764c4c6a9aabddc79a28e136b3bac021dbde44a",
		spiI:   "2116ad07ce61f749",
		spiR:   "24880e55f11a65b7",
		skeyseed: `69fe7a1ac94adaeb711295f5fe004b1a8d6a0b65d05692758ce8ad2f7a45f59d
			7d0b596f51f7dfcf3330061888f6a94f`,
		dkm: `4f904c2025c90c817ea5ff9b662a6fdb445a73b57cdf09eacd379b95e1f03cac
			b04cd6deeda4f952191dd9bc1f7a9502471a648d74dc06d38112de48a42501f6
			b1a3ad55c2099cd9a648e5f17e5bf3e34bf9b5953decb768a34f875fe2b78dca
			0c2fcca81ec1a412006dfaed38fa06882e61f4c148105fb8e231fdb33c4d484c
			001721d4`,
		dkmChild: `06126cc023ac8aabb3ae1ae2d583005a16d39e889efd09d588f2995883261e55
			f44f959072d25ea2f035a64ee8e2341421e7a2d95344282f6ff1f2a9ef236b5e
			c7eae4bb1074ce1f206461209c19dc05a61bbc10a5ec0391bdcd1d25831f8d11
			99af467359a13cb5f9b11187ad97379469f8a1ff3d612b18f165d32e3b5fc644
			0f447321`,
		dkmChildDH: `e31b1b94e0b2146ae66dfe223ca64ccf0895fb6c8862990b446b80a4a81fd801
			ed5fdbcee6e9455c4d56ee10cd73ea77d8c01f31d4e2fcc9d65765327e13f497
			f631ba09d99b39aff2ffa9082c59334a9eb082f795cde78989b1be547fde560e
			b49d5b262e86ef2e2094eab785008e3038dd7bb0d4ac7dac6f99d9c7945950f2
			1b9f44de`,
		skeyseedRekey: `e0548c1682e13bce454026b3b1bdf42985b24e4e7408095a7c529de38c3d1fcb
			04c9fe6868042a34c9614c6c99e3fcea`,
	},
	{
		name:   "SHA-384 g^ir length=256 Ni length=64 COUNT 1",
		prf:    PRFHMACSHA2_384,
		ni:     "9de51ff24675ffc3",
		nr:     "2fd8733cf6388acb",
		gir:    "fa725388d743942f577fd86700c99da7f224766c2dcbd3587ea5535118904306",
		girNew: "ee9202863b0d1d853a875e718aed7609452149fab1c61a4ecf6ce44e456d2f5e",
		spiI:   "20e024d2ec7cc48d",
		spiR:   "3a1184af5fb45719",
		skeyseed: `96252c4ab848b3caea7dc8871754c8d66bd05cb6d486a7a71fc5844fe634b6ea
			73f589c90a3cca986f43963f7f02c134`,
		dkm: `514bd37fdee3ab366c1958ac91103ae21866215329dd54e502ac5a43782e75d8
			06d278236695ccfc1c5eed2473ce346f7ab6a7308b4bfa581824b7d921f512c9
			aaa333e59a183eb46d8ac2058fae9afa852edf312e39701ce1bb61ce71ffd82f
			c55cb98ce7f047b3472d2afad9b5e72f858aeebefdd79c8025927d3f79b8d6be
			51031377`,
		dkmChild: `357d0f4a5140a5f1840845d9395430a2b4361627ed13e7e61a761669e9a72a71
			d09dbdf05ca38153b6adcd0e1f284345a85aa47ebf7c58f3ef4962ac67e10e80
			a8848a9f602e4e6f0d337b1c592b2286b17a8df2732f8d936416d5a97acfce46
			f360ae87e31e200d63848ad578c301dc16149505d7abf2115eadf2aa66727dfe
			024807be`,
		dkmChildDH: `f488e0508483b1113ff2b1d57184c2989c2129f144d917ea5b2baee30beb6bb4
			2f46c5d1ff647a2df17aaf10b4191c7af3c5c4b11507230656bb3b1b8b59643d
			f4c317564509f9cd4a69cee93e2ab0c0acc3737a84b82d8da3d6d42347d3b000
			99e08bcaac653b81001893ef266010ae9065baaa249a64069dfa41cdf8fc46db
			1fefd485`,
		skeyseedRekey: `8b2a7a80d0c9d3437b78f3d24ce05173aa94c08ece0f7c0a8e17dec42cf77056
			7d35cb275684710f7f645fd10c9ab36e`,
	},
	{
		name:   "SHA-384 g^ir length=256 Ni length=64 COUNT 2",
		prf:    PRFHMACSHA2_384,
		ni:     "bfc6fb7f28e11d7a",
		nr:     "0fc49085f25d9745",
		gir:    "e888ab5bf26952e1f64cf77c771aea033eb4171555f3178d167d7518ade199d6",
		girNew: "b102d57df425e9315cbbb1f839339c80ab3fb8b65b6924395db9050a06868937",
		spiI:   "e03471235815d568",
		spiR:   "41944204b1df09cf",
		skeyseed: `cee3de18974b987234e8e1c397b0e92929f7893b577524ab4122f8cb3cedcebc
			f89ee014e25b05d4f4dab5a58f6cce92`,
		dkm: `45fc133d1343aaa8235df29af623462119c43e770824595f60e4f200266c1ac1
			e2d2475e9a24526de6a1ddc4628b9ca92483db837151ffda5a2e765bb28cb3f4
			c1f0a5715637ab3b604355aefb43eb008c9be76b027190622e3f94a52460b4e2
			a640e9595a7c2533ac231efaeed54b8e2ea979fd6e1594b16b666c10b883c5b0
			e90d9e9d`,
		dkmChild: `af61e4531915fd176bdaf18b240df550d124acbde568a38292dec44cd690df56
			9bfffce5c314c448ea72a312efca0b24d33e89a48980517b356a0d1e3f8d2cb4
			73035018fdddebd563f51e9b10798044ecf25565935aa09de6faff8833e5b967
			fb5f1b14d665350febc19c8a0a8ce15e880b323a95b6944b2ee36d39b8a61823
			8df6426d`,
		dkmChildDH: `cedddb2567bfd90007ba243bb4f0988d1fe1bdf1540c25fc97f0f332e32d4e8c
			e4cf39c824962738ac495a421bcd3e900628d5b644317385a7804305e986d142
			e177df2d3b5407afb978a31e0794736dd0164a74b8bbd007d30caa781058ebdf
			051e69a34bb35c5d5b34d4595f16271c36639a36d06b6e6e156a17168b451682
			45289be9`,
		skeyseedRekey: `02944de0338c07b445ff16884a2bb4e936efeba99e59926f5de1949f6662fff7
			98de24e99c3613bd42cb7228827ed5d4`,
	},
	{
		name: "SHA-384 g^ir length=256 Ni length=2048 COUNT 0",
		prf:  PRFHMACSHA2_384,
		ni: `91a24903f4f94fce265a9592c29e7a5a3c1e60bd238d2795692c6e39d6c1790f
			cdc15642598cd5168f96a7c93cea98871b56fb7b9ca0b6a901caaed669ae9d21
			017c5b6206f4bdfec792bb75c853b97da5e6f049a08be1d6d81904cef4d7fc1b
			10474c6900ff97afc597b4ff8e338ce4136c4201908745e82376c7dcb5bb44b4
			a0ac7ceceaba7317452af07b9a197a3221027a070c85d1e7e86c589a536770b0
			fed650bb3320a25cd7615b29a3c6434100fdb7933582d4211d4c9e3a43942b92
			dd3a9642238ba19d939a666f373bae1d5af0954d4711336f80a3aeda5917e214
			587d69579414f995cc4e28303e4e530fba485a21682c8503a698da61d3703054`,
		nr: `555cd8dd1eee8ff1a4a3c9d5ced39ab8733ea4872c859622ca2b9c85f50ec72c
			f9e41b5e1ab5510ae578b436a68f6138c4fb3b830c0f53f764d5ace7a83c1ef7
			a3897b95b2fbb5f500b94642c80883c882e5681492bd191f61eed5bad10a74b1
			2b571c529f0bc5eaef081d37081b259c028d1acb3fffc40904ee7555091b475b
			2808e46303c6b79da55662ddfd72434c9923924f64457b31d037c47638338899
			d9d323c26f607aac3397c42d8ab498e9c701df7f77f12bea8951f384bf533163
			cddbd8eff9ed04d56c4201658c5b67da030492f112c89b978fd7a41cedbf95b1
			e79822b3fb11e56625d0827aac914e8ce69acada6019cf1301862e4a0496ac26`,
		gir:    "d4db220f6c69f957769fb1bc2d9aff55eafe5fe45309d7b45e1c718fa4a5914f",
		girNew: "0c235e255e40fbd44d686671eb120ebbc951c5529d171bc77d98083792626bb6",
		spiI:   "9404b0ea02b521a5",
		spiR:   "1726142388255722",
		skeyseed: `962513edd51b5c19b4da68c0e57c3fb91110f2381fe935981405e6983f56c90c
			debde381e3a0cb67c000175d7028b9dc`,
		dkm: `2d30046f2de7c8133e384af26327dcff737e0799ba284a7748b50cc35d386313
			c9da19d3d483bd00edf2d20dd7a7bae3249db46ac121dcabd5c52bf386555d10
			d057c9ef543e9dc64adb76dc86703a4b40a78ccca963ce6e7ec93cdc40b07a47
			472dcaad2fcb01d7d5bfc209f0636cd381c91884769af33380545aa5480e6176
			02b135283257cd6e76a17e31d64e5ebbb417aeb0b29235d51f741e6351ddcbce
			59c222c6e6c7fd6c724a68821000e6885a984ab5c1203cc849ded0f81a6748f5
			272c7f6bb10c8f9cf8545b6849c7818a50cbae8e2ef78a4c59afb5b42f868d32
			34cce98a36ecaa2eeb5802a785c23565e21cea4929a5852f2450433df5ba537a
			8856d82c2b8a0d20ea9ce7eb1cba017b9e4da278bf2b7d009a1c65c57d7dfb20
			b699708df3a840ec4a3577f7dd49d142bf36adf554b5b5c0f93ad433361cf38c
			cbc2531ca8e5b0f11f2426bc7f9fc693ccffbc1a27bce5122d3e837dd042bff8
			b06d48bdfdc2d899990180f32d9b3fa56bbfe9b4fee024ff9995f8ab1cf20077`,
		dkmChild: `92087451b6ef492a79e8fc93f5f2fc727e4fb2a73fb94b58a94b855584dea82a
			35176298ee7f5c55c000c294e7c7784865770206b75df74a759dd52558bb0f05
			a50d53e0f689e83db2caa8efdd00ea5f8d8a735b518312c7e1ed384b1c7b3f70
			3ebb2acb54498c883ac5b7e8ec9be943603b39453d5a4ab0e5d6a0589d215c9a
			f64eaef7da0ab48d6157615723460e9475536c311b48e4e2aafd382e7680b420
			718522bee5109f88a87dc753e613e1b82151f608357ec6dd8ea71aa47407f0b2
			6cb41aefa4af412bf724188473bc70569e928d36064e18f3952bd3f8fcf20916
			e39f643c11fd797c60128ff648430a93e7db3d4ea02e59b91000364aa0adfc34
			8c603d3780a2698061dff022850ae76466541f961f987c75e5ded5edef79d6f2
			25b8b1f6ac515627baa96fb29bbd52379c0b5fe4643658830ee73a919ab76753
			e778f28206644fbc7e5f499906d69df26acb62d11e46f88a26e800902b2daf52
			35db70b0f98f394d5881a3b5e6ebddb65104608357a0f0f4cdafc86b3a1c20ce`,
		dkmChildDH: `a070ec310b93cdc4bed5c3ae4fcab27f80a657a734b6899036bcea1e67886e85
			248405795419598752ca759c6149301063897ed47f9fb20d438fdea70a0661e4
			f8e3c1fedde3390fc1588f1948d0b975fb9ce8ecc9a86b4418f1b2bfc73f5bd8
			842660a4a511f7e24e0cab472d087332de1762f0d6d8ce0dcc78020bd2d636b3
			bcfd63e53fe93027ae50f973e790c8c4ad8278e179d36a6a15b8aae04ea349de
			0149189806effb7b85a59ba6b4c256f88cf05199bc1261413d1ea4001f5129f6
			2a592fd9b48b12632e0a02af529d541221d7a7f9056737c9d97b00bbdc02d185
			1a081c72d0bb9db138da89a8f463ae6264bd357454076cb94f307cffa5be53a2
			fd08495f6ecb6c7379b3dc219c61ca8df8f3a8f4e7721d3fae21b122999f733d
			886e7ddc13f5e5ad8cf24c8c0b6293379dcd98264df13a6d896b1b9298b2c266
			0ba1052c2cf52a072d2301da82baf5379dfa7b556c1736a3fd68563ccb7387be
			816ce4327d1af2678e80c364f7a480098ab5e9308142e8a62b5b7d4c8cf35d38`,
		skeyseedRekey: `23aaf6cb55a08b8ac17a2910da67057985db0a4d6af6adbff5ff50b8204f64d4
			6a11418d21fb2e52853cc78304aee438`,
	},
	{
		name:   "SHA-512 g^ir length=256 Ni length=64 COUNT 0",
		prf:    PRFHMACSHA2_512,
		ni:     "97c41a9b0a03e74c",
		nr:     "a659fd06e1746600",
		gir:    "276255c3eaace5c6db32b609aa86c0ef07bba4bf2dc4c262995efd95ca607c3f",
		girNew: "bb4015f7727b35532021336a9e4a6370ac8729b01fbb8f15d52236820fac4709",
		spiI:   "ff43c5c689b95481",
		spiR:   "e2ba607f30079bb7",
		skeyseed: `d6e74966b75fd2afab48be319d63d97c8a5d2ffe2e320763a462c664b36c3a94
			4067d867c3a55fd8a7e5cca64b22e24415987e15549f09a81b455adaa5303df8`,
		dkm: `22259105314717dc73c210919ee9cb3ded774dc087e866aa3960404c0ed7b8e7
			8e79b993888388e2e5cb238d4bfcb4cdee9da074a26e329d6c2f2f660cc9c711
			c941a2fb3d85a2e5d01e579c8f2c9d00fa6fabe76a137b00c7ff1b2918999065
			88c26f073d819063238c4c844f0f8d221b65b76dbc9ed6f6368e5dba86b3e81b
			60eb44a1`,
		dkmChild: `2f1311a8e143e59d65bd9d8adc4e64c624313495c899697236bd0980c503717d
			0ad5dee13ff918e3f4f6505bc19a0a1352d20e99f704f6ef0c71124be1c97a1a
			d9aacf99a33c1cd00537aa922906d1db33fcd640f147953ac632f8a655f84daa
			1363e0b8322e82620c4bc27309bb1525387493398467b7c9561317e61d1f8be4
			36388aa9`,
		dkmChildDH: `15a40cef7fc88a166526a4cdb5697dddbccf3c69a72b22c92c1f88e9ca9d9b52
			58c9f52684a7169efd4463f758e34ada6eb3f3805f194f6019b13acd11988e42
			3f7630cb764f10a86eb28e14cba8596ee9255c853f7a903ef09de2ab5f84cc44
			6359c604dc193a8d4c4e4b02174a4c04aa859e84934bbb60128b920b90124187
			c721c000`,
		skeyseedRekey: `ecdaf3ccb990abc898a453b03fd56f9975275f150e1e571b0560b3cb2ee67289
			e82b899cdc2129fd821fe8aebea796f190765c25798f5883f923526551f16a4b`,
	},
	{
		name:   "SHA-512 g^ir length=256 Ni length=64 COUNT 1",
		prf:    PRFHMACSHA2_512,
		ni:     "27d2ea77c268c678",
		nr:     "8382ad5d586c66f6",
		gir:    "8f7319634ab53ec6291a96b4bd4fd9cb0c3f37ef810289ec47c9a8583354a296",
		girNew: "3503b341ea67c9b2f2165bd858896793cbb22e2e1832f333bc9dcf72b4e44f8c",
		spiI:   "ad8b39a768761414",
		spiR:   "7cf08bfda0d66239",
		skeyseed: `6aa6a19117389501682c4b0b3c012cea045a769255990249b0aa5f23e2a90d73
			e0f23b5dc26228ebeec1efa82549d733d16b66fbd4273bf1b0ede6b39d1abc8c`,
		dkm: `8cbd11ccb2849444805c3fcbcfdf7f60c24cdb4bf60c497c8418796a6631950c
			ab41fc3975eb518aaa5adec0c768d7fb68c0dde4b365a59a80b6a33dfdee7138
			d2a1e27515421bf1c49a69a21c5a818cdb3bfc899769c34a8cb86be34eaa175c
			5c6048279abc8057c57c4874eaef22e286cefee7e093a23de7106e5ccce4d47c
			e6bbbb4c`,
		dkmChild: `8ce1c22e22894e295524d827a43a5c9511cf12a9213db0adc6efbe11b04427db
			811646c32e2a541177e0f86f369d2a33c8daea12c01281ac64093ea8f32ddcd8
			dff77001f9d4a098c307a14910537cbcd5a71f9e8f474698dde0b9dd9029f03a
			4c36dd204d2335d632bb16746ee7670c5abb6cec9579bde3781c856a0505fbb5
			db5d8b95`,
		dkmChildDH: `43c41b45defb81934e83e88ca3b301f081b9fbc65e026862bc6442d81269b7e2
			07cdb6b885dc574cea12c8d50d9cc9a2e670dfe57dede3811009e6df9cb46865
			31c2bab71b1d39cfa0015053c15559db1e63bb1c7ed9379eec490e554129f9e8
			f369548d1bca4175a4ff7b0ae3edd830e0a4eb3fc44e3787fc1a043ba94e090d
			d2827732`,
		skeyseedRekey: `879fc19eb8e916a40a0dfc6d0cb23eff5c40f07ac81cf47ddbd1708528f5f7b4
			847349c692a0225114956dff6014320304d2126c161197962ff84e416f6c26b7`,
	},
	{
		name:   "SHA-512 g^ir length=256 Ni length=64 COUNT 2",
		prf:    PRFHMACSHA2_512,
		ni:     "ec8349d06b6c29aa",
		nr:     "8436ac5cd43646be",
		gir:    "532eda9fdeee52e83384df1a8a0e808b4d475e3646423576fae44f0f52f2446f",
		girNew: "fd477ce9dbd25b1fb4d6189fa8058fb59dd8d355e4c8f39f2fde8bb1ea87e605",
		spiI:   "babc7e255d02a343",
		spiR:   "a9c10e4205e559e4",
		skeyseed: `92c1fdfdd2a74bae173e73c6f46bee4bae963eef34732d62343c40c84c84048a
			82bbd37dd0f0c5b2acbf70eb42fef6b19665f484dd56feebb6c0125c8bec38c5`,
		dkm: `34e20dfef7eae05fe98ed47f41249976c5d4c2f6f0b82b323053a11a0544bef6
			be2450d0dd60155cd10666ed87bcb1408d17cd57454eef996f4760126f4e0bad
			2c53f33de877d54cd463f492d355bf760dd3cbd59c2f2f9fdc1c88ff240dc533
			4f8a95b460e4c918a60307e9ea5735d004118eecbdc25910286410ad92a37310
			5f68e117`,
		dkmChild: `14e0f5177a8e5413c7e31e25d4452db1815efe4fb7807163e510d29dcdee7af1
			2951a0984802b993c26ff8f7bd92265cacec374ecfb41e5314c6472196c66da1
			817de7042045e2693488c4f39809c6a6ec19c06fb04bc10e4f00de9d259d93f2
			810f52236fb57e1eb25d81b874e6ab59a0c9f323528866a89768b9516a66084f
			a673b0ab`,
		dkmChildDH: `ada7478fb643aeba8a2c07a4e52486e9bff94f1fbff62b518418c242c4cb64de
			485d8821121b487426602cf4e70d34e1d1080933279ea2fef57702de3a1af5ab
			9e067050e3923bc564e510fc87bde18b6c4cf7f471134a870402db592ec40097
			2624905d825aaf636ccc6ddaa96d1aa29c88b682fb02279eb4ce3db6be92865e
			75ddcf04`,
		skeyseedRekey: `042a7be47f93376fa9fd784442a30b1b42ef6ceadb8e4fa6a3a95b54db853d71
			2527813322370525a81a563929b1b754ddd52eff49d0617c9dc186784475732b`,
	},
	{
		name: "SHA-512 g^ir length=256 Ni length=2048 COUNT 0",
		prf:  PRFHMACSHA2_512,
		ni: `4a7cb4ac0e29254cff8be2df49ede7ce128d345a7b734446f714819786f62f43
			c94b99fb588d73dc560243af58540a0ab902f94ff6475897af489ee5791cfab6
			805bb48142c6d9a6c6b28df27c32f7cdc9b4f71178894a2d9ce927ed8ff68a9e
			57c734db4512484ec51568b225da24118b5e9fcef386e47d41e5bc6a3c0c316f
			189580f68a4fd3dc411749a48449436cd3f5359334c408d3ebd366e0c7f844e8
			02af8e2d7abe328c9c1d357b33a89ec405ba459380fd7587d137c5786360d727
			a92126bef46bf1834111e45a862563484b6be42d9e571bac9320afe1bfef353b
			2730d1e1db9103a17100c62944bc1f36633ca2f4e416febd9e9b4775a697d8d8`,
		nr: `3ce0189be206e239e9e518f652661b798485389bc4366d5f729d61226d403819
			db6fae2080fcc3d2df2afe8c817b750af97d14c525cafdda3884fdc2997a25d3
			e21700c7604f034b8179f26d22f1e5fb85229de932575355ad5a926f1ff9c225
			52f84c87d066e0d6193466784e5dea490afc39c727e7e5c54484700f0f9a495a
			3e309cb04c0f15f1e881b0aa31b435c8a123beb1c321143fa134306b46f146f0
			5ea2d42ce0866551e90e6662fbb8bb3300f3b1325c044f5959538ae846c13da7
			f52fcbda737b26fe6c9df906e5d2620e122d1168ee47ee028113363c0dd5d692
			850f968f953712982d9a4fcf33b384ab1444fe067baf9e36d08cc079e04f81d4`,
		gir:    "7794f2746d3275fb590509ff578b55be3e34a1d16a7a7800c1ec25dede310ffc",
		girNew: "81eea11dca0c7c9c565d8446376e94bf6f41b105f6f0baca13b2de95b8fdfde5",
		spiI:   "70e98b99bd6d2f19",
		spiR:   "17f9a42a6609870f",
		skeyseed: `c4da8bd64f31b7cefece141ba7f0df75ce45d297ac99833c1210ad964686c609
			0690ca03b12b89c89fb036e5e68aedd446e71e0f2c2db6917c99de63a098d6a4`,
		dkm: `4ac61c24d811d6fcd7941a2349263cbca4f4d9dc50ae559f969a55b3444fffaa
			fc05b8c24a008a090fbc773274a7c8c371bb8d3048095151904e1c25ed747709
			22fa25b0e3ef9cefba36915a1b0241ec38015c4ac115f2234a38498a046acc52
			54302471b4f27f469227ba1e5734c1a80c12500dac9073f35a2436c0b0693dae
			062e080b459283fe19c79462d28e97e2e6e62095ebfaf31beb91d099c5631c22
			840b4d000c1e3777bb68a75169424e3f75e1e14a7386a0ce813082d6e13ca25a
			4c1c90ccfeffc2ea0027e30861e50765cd4191ddc941326b1590387cd01cb0a3
			dda58184c77ff9c6bec2eac1921806377b55f6a2198561b3fca8be4fe7fcbf62
			12577c5fffe98412b66017a77142941e5d275867258f80f90b5d04d065d1222d
			974e24494cdf5da91e335b81388eadbff93400a3e0b314186cc94c170313a5d0
			b1364a5daddf36b2f2727b477e5a67f03236a95258c0c55016f073c8d25809a3
			a540553daebda41ebb468e8a238c78c2e277b4d1fe46e73e92cb9d15e3836d33`,
		dkmChild: `d513a894d74e5b3355c391e5569fa8bcfcc4db6b0dc4516206f0acee03f7fd33
			1313ae43ee2ec0f48d64c3b70e3b2e6f4f6686eb0dc306887093dd4e41d9ddd0
			c8e9d58c6b71c9cd9f66b97052ddf7c05bc7797fe0aa25cbbcf4bfce8dfd5851
			b4aac83d9e7cb77a05b1598673d924dbcfb0b6f255ffdfad62f5bb028965d95a
			0a3ae86becbcac9a3e7096f335f0dda1d69fe55e2c2b21b92bca0e435b74fff5
			42af81bc253deb8623e5fa4ac2324277a431f8c56fc3018d34f2e7af0131888b
			eafc9106428caf86cebaa90591ad6b2e1108c17e015eaf26e4f9e5a2d15d13c5
			65e03e3f8e33b2cbed0856dda735a78b490198f82a88f0c9c46ed43112f661d2
			78df2e098a9539bfdd1cb7a3dd68abfba04d2ac107299c6c3076d9ba19129d7f
			c0057a80641e654cb73751aa4d1bb0c5bc69ebe96a8ce7de864555573fd93365
			cc82a5c0e5c7fb766dae496c62b137c36923dc96adfb7ea788f45fcf58af7da2
			8764d2de070ad0b37c8a3f870477c8fcd5572758feb7b77f5d3422236e5fe00e`,
		dkmChildDH: `8ebb22cc25572d4d5877f43bde2624f81db9341b046c39d6f53f11ac8b9f3d7e
			bad4a9bcaca4bde58f2b59d40306595487635bf1fdc425087cddea5cba2cecbc
			432e4688af46eb06a04ff63de5c9bdda17199495232b2937ab5bff4bc67127d1
			973a83f589d74a3646de58ecdf49f96cc8bbc7598d2ced22384a86b8287b641f
			6c8307a1185e0e723304dee1415e91e94dcb2cd98d6ce50a3d49f23c60229452
			98178f64ea98497aac5f4c5d808f5645f771537f540fb2802171f631ad873545
			607374fe44b26f8452a1deb4010da5ac2c1a5ee23a4a27d8027a6991d2f253a8
			aabc2c068744612d89d1fd2576e805e52d05e6230c6340f2a5e65aefb3380fd0
			33285af8f5fe7849ec01fd251bb5207c7af84af0b74a386ee717a718f24cc8f5
			dee677aa7c7f349d2846b1302a3f5031fc4f2899ac8f0deb9d074bf2f1a604ad
			ad7f7fa8887cbe0e5e9602633b7081259ca7f1e412bab756da6bbcba94e3842e
			494c9ea9eb45ede185321632151e538257dfbb99c5814509ea7b74456974d2b4`,
		skeyseedRekey: `0158742e16b528ab70c00bc0d0e3cad9889a46f0680a0fd95d3088e9140ea92f
			eab2811cf2414d1d4fe150022e55aeea21bd6e39c98b7c1a49a62776fca676f7`,
	},
}

func TestIKEv2KDFVectors(t *testing.T) {
	for _, v := range ikev2KDFVectors {
		t.Run(v.name, func(t *testing.T) {
			ni, nr, gir, girNew := unhex(t, v.ni), unhex(t, v.nr), unhex(t, v.gir), unhex(t, v.girNew)
			spiI := binary.BigEndian.Uint64(unhex(t, v.spiI))
			spiR := binary.BigEndian.Uint64(unhex(t, v.spiR))
			dkm, dkmChild, dkmChildDH := unhex(t, v.dkm), unhex(t, v.dkmChild), unhex(t, v.dkmChildDH)

			skeyseed, err := SKEYSEED(v.prf, ni, nr, gir)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, v.skeyseed); !bytes.Equal(skeyseed, want) {
				t.Fatalf("SKEYSEED\n got %x\nwant %x", skeyseed, want)
			}

			// DKM is the prf+ stream; the seven keys are consecutive pieces
			// of it, so whatever the lengths, their concatenation starts
			// with DKM (prf+ output is a prefix of any longer output).
			seed := concat(ni, nr, unhex(t, v.spiI), unhex(t, v.spiR))
			if got := v.prf.Plus(skeyseed, seed, len(dkm)); !bytes.Equal(got, dkm) {
				t.Fatalf("DKM\n got %x\nwant %x", got, dkm)
			}
			for _, lengths := range [][2]int{{36, 0}, {16, 32}, {32, 64}} {
				keys, err := DeriveIKESAKeys(v.prf, skeyseed, ni, nr, spiI, spiR, lengths[0], lengths[1])
				if err != nil {
					t.Fatal(err)
				}
				all := concat(keys.D, keys.AI, keys.AR, keys.EI, keys.ER, keys.PI, keys.PR)
				n := min(len(all), len(dkm))
				if !bytes.Equal(all[:n], dkm[:n]) {
					t.Fatalf("IKE SA keys (encr %d, integ %d) are not DKM in order", lengths[0], lengths[1])
				}
				if len(keys.D) != v.prf.KeyLen() || len(keys.PI) != v.prf.KeyLen() || len(keys.PR) != v.prf.KeyLen() ||
					len(keys.EI) != lengths[0] || len(keys.AR) != lengths[1] {
					t.Fatalf("key lengths: %+v", keys)
				}
			}

			skd := dkm[:v.prf.KeyLen()]
			for _, c := range []struct {
				name   string
				secret []byte
				want   []byte
			}{
				{"DKM(Child SA)", nil, dkmChild},
				{"DKM(Child SA D-H)", girNew, dkmChildDH},
			} {
				for _, lengths := range [][2]int{{36, 0}, {32, 64}, {16, 32}} {
					keys, err := DeriveChildSAKeys(v.prf, skd, c.secret, ni, nr, lengths[0], lengths[1])
					if err != nil {
						t.Fatal(err)
					}
					all := concat(keys.EncrI, keys.IntegI, keys.EncrR, keys.IntegR)
					n := min(len(all), len(c.want))
					if len(all) != 2*(lengths[0]+lengths[1]) || !bytes.Equal(all[:n], c.want[:n]) {
						t.Fatalf("%s (encr %d, integ %d)\n got %x\nwant %x", c.name, lengths[0], lengths[1], all[:n], c.want[:n])
					}
				}
				if got := v.prf.Plus(skd, concat(c.secret, ni, nr), len(c.want)); !bytes.Equal(got, c.want) {
					t.Fatalf("%s\n got %x\nwant %x", c.name, got, c.want)
				}
			}

			rekey, err := RekeySKEYSEED(v.prf, skd, girNew, ni, nr)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, v.skeyseedRekey); !bytes.Equal(rekey, want) {
				t.Errorf("SKEYSEED(Rekey)\n got %x\nwant %x", rekey, want)
			}
		})
	}
}

// TestIKESuiteDeriveKeys checks the key lengths RFC 7296 §2.14 gives each
// proposal, and that no key can be appended into the next.
func TestIKESuiteDeriveKeys(t *testing.T) {
	for proposal, want := range map[string][3]int{ // PRF key, SK_e, SK_a
		"aes128gcm16-prfsha256-x25519":        {32, 20, 0},
		"aes256gcm16-prfsha384-ecp384":        {48, 36, 0},
		"chacha20poly1305-prfsha256-modp2048": {32, 36, 0},
		"aes256-sha256-modp2048":              {32, 32, 32},
		"aes128-sha512-prfsha384-ecp256":      {48, 16, 64},
	} {
		suite, err := ParseIKEProposal(proposal)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := suite.DeriveKeys(make([]byte, suite.PRF.Size()), make([]byte, 32), make([]byte, 32), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		got := [3]int{len(keys.D), len(keys.EI), len(keys.AI)}
		if got != want || len(keys.PI) != want[0] || len(keys.PR) != want[0] || len(keys.ER) != want[1] || len(keys.AR) != want[2] {
			t.Errorf("%s: SK_d/SK_ei/SK_ai lengths %v, want %v", proposal, got, want)
		}
		for name, key := range map[string][]byte{"D": keys.D, "AI": keys.AI, "AR": keys.AR, "EI": keys.EI, "ER": keys.ER, "PI": keys.PI, "PR": keys.PR} {
			if cap(key) != len(key) {
				t.Errorf("%s: SK_%s has room to grow into the next key", proposal, name)
			}
		}
		if bytes.Equal(keys.EI, keys.ER) || bytes.Equal(keys.PI, keys.PR) {
			t.Errorf("%s: the two directions got the same key", proposal)
		}
		// The keys build the SK payload transforms, one per direction.
		for _, direction := range [][2][]byte{{keys.EI, keys.AI}, {keys.ER, keys.AR}} {
			if _, err := suite.NewTransform(direction[0], direction[1]); err != nil {
				t.Errorf("%s: %v", proposal, err)
			}
		}
	}
}

func TestKDFErrors(t *testing.T) {
	key := make([]byte, 32)
	sha1 := PRF(2) // PRF_HMAC_SHA1: not implemented
	if _, err := SKEYSEED(sha1, key, key, key); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SKEYSEED with SHA-1: %v", err)
	}
	if _, err := RekeySKEYSEED(sha1, key, key, key, key); !errors.Is(err, ErrUnsupported) {
		t.Errorf("RekeySKEYSEED with SHA-1: %v", err)
	}
	if _, err := DeriveIKESAKeys(sha1, key, key, key, 1, 2, 16, 32); !errors.Is(err, ErrUnsupported) {
		t.Errorf("DeriveIKESAKeys with SHA-1: %v", err)
	}
	if _, err := DeriveChildSAKeys(sha1, key, nil, key, key, 16, 32); !errors.Is(err, ErrUnsupported) {
		t.Errorf("DeriveChildSAKeys with SHA-1: %v", err)
	}
	p := PRFHMACSHA2_256
	for _, lengths := range [][2]int{{-1, 0}, {0, -1}, {p.MaxPlusLen(), 0}, {1 << 30, 1 << 30}, {-1 << 31, 1 << 30}} {
		if _, err := DeriveIKESAKeys(p, key, key, key, 1, 2, lengths[0], lengths[1]); !errors.Is(err, ErrKeyMaterial) {
			t.Errorf("DeriveIKESAKeys(%d, %d): %v", lengths[0], lengths[1], err)
		}
		if _, err := DeriveChildSAKeys(p, key, nil, key, key, lengths[0], lengths[1]); !errors.Is(err, ErrKeyMaterial) {
			t.Errorf("DeriveChildSAKeys(%d, %d): %v", lengths[0], lengths[1], err)
		}
	}
	// The most prf+ can give is still fine.
	if _, err := DeriveChildSAKeys(p, key, nil, key, key, p.MaxPlusLen()/2, 0); err != nil {
		t.Errorf("DeriveChildSAKeys at the prf+ limit: %v", err)
	}
}
